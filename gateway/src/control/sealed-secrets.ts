/**
 * The control planes' side of secrets: a value is sealed with the fleet's key (secret-box.ts)
 * before the store sees it, and opened only for the gateway that builds the function's env.
 * Both planes store sealed strings by secret name and share these steps; where they keep the
 * map (secrets.json, a Redis hash) is theirs.
 */
import { ControlPlaneError } from './control-plane.js';
import { checkSecretName } from './names.js';
import { checkFunctionName } from './rollout-rules.js';
import { openSecret, sealSecret } from './secret-box.js';

export function requireSecretsKey(secretsKey: Uint8Array | undefined): Uint8Array {
  if (!secretsKey) {
    throw new ControlPlaneError("no secrets key: set secretsKey (TFTPFN_SECRETS_KEY) or secretsKeyFile to the fleet's key; make one with `openssl rand -hex 32`");
  }
  return secretsKey;
}

/** Checks both names, then seals `value` for the slot (name, key); throws without a secrets key. */
export function sealForSlot(secretsKey: Uint8Array | undefined, name: string, key: string, value: string): string {
  checkFunctionName(name);
  checkSecretName(key);
  return sealSecret(requireSecretsKey(secretsKey), name, key, value);
}

/** Every sealed value of a function, opened; no key is needed when there is nothing to open. */
export function openAll(secretsKey: Uint8Array | undefined, name: string, sealed: Readonly<Record<string, string>>): Record<string, string> {
  if (Object.keys(sealed).length === 0) return {};
  const key = requireSecretsKey(secretsKey);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sealed)) out[k] = openSecret(key, name, k, v);
  return out;
}
