/**
 * Function secrets at rest: AES-256-GCM with the fleet's secrets key (TFTPFN_SECRETS_KEY or a
 * key file), which gateways and the CLI hold and the control store (Redis, the deploy folder)
 * never sees.
 *
 * A sealed value is `v1:` + base64(iv 12 bytes | tag 16 bytes | ciphertext). The additional
 * authenticated data binds the function and the secret's name (NIST SP 800-38D §5.2.1.1: AAD
 * is authenticated, not encrypted), so someone who can write to the store cannot move a sealed
 * value to another slot (`db`'s PASSWORD under `web`, or into another key name): it then fails
 * to open, like a value sealed with another key. A fresh random 96-bit IV per value (SP
 * 800-38D §8.2.2) keeps the per-key invocation count far below the 2^32 bound for any fleet.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SECRETS_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1:';
const HOW_TO_MAKE = 'make one with `openssl rand -hex 32` and give every gateway and the CLI the same';

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

/** What binds a sealed value to its slot: the function and the secret's name, NUL-separated (neither may hold NUL). */
function aad(fn: string, key: string): Buffer {
  return Buffer.from(`tftpfn-secret\0${fn}\0${key}`, 'utf8');
}

/** Parses a key given as 64 hex digits or as base64 of 32 bytes; undefined when it is neither. */
export function parseSecretsKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length === SECRETS_KEY_BYTES) return b;
  }
  return undefined;
}

/**
 * The secrets key from the config: `key` (the value of TFTPFN_SECRETS_KEY, field secretsKey)
 * or `file` (field secretsKeyFile: a file holding it). Undefined when neither is given; throws
 * a SecretBoxError naming the field and how to make a key when the one given is not usable.
 */
export function loadSecretsKey(opts: { key?: string; file?: string }): Buffer | undefined {
  if (opts.key !== undefined && opts.file !== undefined) {
    throw new SecretBoxError('secretsKey and secretsKeyFile are both set: give one of them');
  }
  if (opts.key !== undefined) {
    const key = parseSecretsKey(opts.key);
    if (!key) throw new SecretBoxError(`secretsKey: not a key (${opts.key.trim().length} characters): use 64 hex digits or base64 of 32 bytes; ${HOW_TO_MAKE}`);
    return key;
  }
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new SecretBoxError(`secretsKeyFile: cannot read ${opts.file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a readable file holding the key; ${HOW_TO_MAKE}`);
    }
    const key = parseSecretsKey(text);
    if (!key) throw new SecretBoxError(`secretsKeyFile: ${opts.file} does not hold a key: it must hold 64 hex digits or base64 of 32 bytes (one line); ${HOW_TO_MAKE}`);
    return key;
  }
  return undefined;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== SECRETS_KEY_BYTES) throw new SecretBoxError(`secrets key must be ${SECRETS_KEY_BYTES} bytes, got ${key.length}`);
}

/** Encrypts `value` for slot (fn, name). */
export function sealSecret(key: Uint8Array, fn: string, name: string, value: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(fn, name));
  const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

/**
 * Decrypts a value sealed for slot (fn, name). Throws a SecretBoxError that names the slot
 * (never the value) when the key differs, the value was altered, or it was sealed for another slot.
 */
export function openSecret(key: Uint8Array, fn: string, name: string, sealed: string): string {
  checkKey(key);
  const where = `secret "${name}" of function "${fn}"`;
  if (!sealed.startsWith(VERSION)) throw new SecretBoxError(`${where}: not a sealed value (no "${VERSION}" prefix); set it again with "tftpfn secret put ${fn} ${name}"`);
  const raw = Buffer.from(sealed.slice(VERSION.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError(`${where}: sealed value is truncated; set it again with "tftpfn secret put ${fn} ${name}"`);
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(fn, name));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretBoxError(
      `${where} cannot be decrypted: the secrets key (secretsKey / TFTPFN_SECRETS_KEY) differs from the one it was stored with, ` +
        `or the stored value was altered or moved from another slot; give this process the fleet's key, or set the secret again with "tftpfn secret put ${fn} ${name}"`,
    );
  }
}
