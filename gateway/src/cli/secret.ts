/**
 * `tftpfn secret put|list|rm NAME [KEY]`: a function's secrets (its env.secrets), kept apart
 * from versions and stored encrypted at rest (AES-256-GCM) with the fleet's key, which the
 * gateways and this command get from TFTPFN_SECRETS_KEY or secretsKeyFile and which is never
 * stored beside them. A value is read from stdin (hidden on a terminal), never taken as an
 * argument (it would land in shell history and `ps`), and never printed or logged: `list`
 * shows names only.
 */
import { Command } from 'commander';
import type { GatewayConfig } from '../config/schema.js';
import type { ControlPlane } from '../control/control-plane.js';
import { addControlOptions, checkName, ControlCliError, processIo, withControlPlane, type ControlFlags, type Io } from './control-cli.js';

/** The key rule: an identifier, as env.secrets.KEY reads it. */
const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** A secret is a credential or a token, not a file. */
export const MAX_SECRET_BYTES = 64 * 1024;

export const NO_SECRETS_KEY =
  'no secrets key: set TFTPFN_SECRETS_KEY (openssl rand -hex 32) or secretsKeyFile (a file holding it), the same on every gateway';

export function secretCommand(): Command {
  const secret = new Command('secret').description("a function's secrets (env.secrets): encrypted at rest, values never shown");
  secret.addCommand(
    addControlOptions(new Command('put').description('set a secret; the value is read from stdin (hidden on a terminal)').argument('<name>', 'the function').argument('<key>', 'the secret, as env.secrets.KEY'))
      .addHelpText('after', "\nExamples:\n  printf %s \"$TOKEN\" | tftpfn secret put grub API_TOKEN -c gateway.json\n  tftpfn secret put grub API_TOKEN -d ./deploy     # asks for it, without echo")
      .action(async (name: string, key: string, flags: ControlFlags) => {
        process.exitCode = await withControlPlane('secret put', flags, processIo, (cp, config) => putSecret(cp, config, name, key, readSecretValue, processIo));
      }),
  );
  secret.addCommand(
    addControlOptions(new Command('list').description('the names of a function\'s secrets (never their values)').argument('<name>', 'the function')).action(async (name: string, flags: ControlFlags) => {
      process.exitCode = await withControlPlane('secret list', flags, processIo, (cp) => listSecrets(cp, name, processIo));
    }),
  );
  secret.addCommand(
    addControlOptions(new Command('rm').description('delete a secret').argument('<name>', 'the function').argument('<key>', 'the secret')).action(async (name: string, key: string, flags: ControlFlags) => {
      process.exitCode = await withControlPlane('secret rm', flags, processIo, (cp) => removeSecret(cp, name, key, processIo));
    }),
  );
  return secret;
}

function checkKey(key: string): void {
  if (!SECRET_KEY.test(key)) throw new ControlCliError(`invalid secret name "${key}": use letters, digits and _ (at most 128), not starting with a digit, as env.secrets.${key.replace(/[^A-Za-z0-9_]/g, '_')}`, 2);
}

/** Whether the config names a secrets key (the fields the gateway reads too). */
export function hasSecretsKey(config: GatewayConfig): boolean {
  return config.secretsKey !== undefined || config.secretsKeyFile !== undefined;
}

export async function putSecret(cp: ControlPlane, config: GatewayConfig, name: string, key: string, read: (io: Io) => Promise<string>, io: Io): Promise<number> {
  checkName(name);
  checkKey(key);
  if (!hasSecretsKey(config)) throw new ControlCliError(NO_SECRETS_KEY);
  const value = await read(io);
  if (value.length === 0) throw new ControlCliError(`no value on stdin for ${key}: pipe it in (printf %s "$VALUE" | tftpfn secret put ${name} ${key}); to delete it, use tftpfn secret rm ${name} ${key}`);
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new ControlCliError(`the value of ${key} is ${Buffer.byteLength(value)} bytes; a secret is at most ${MAX_SECRET_BYTES} (put files in the bucket and the secret to reach them here)`);
  await cp.putSecret(name, key, value);
  io.out(`${name}: secret ${key} set (${Buffer.byteLength(value)} bytes, encrypted); running gateways load it within one check of the control plane (controlPollMs, 5 s by default) without a restart; a gateway that starts uses it at once`);
  return 0;
}

export async function listSecrets(cp: ControlPlane, name: string, io: Io): Promise<number> {
  checkName(name);
  const names = await cp.secretNames(name);
  if (names.length === 0) io.out(`${name}: no secrets`);
  for (const n of names) io.out(n);
  return 0;
}

export async function removeSecret(cp: ControlPlane, name: string, key: string, io: Io): Promise<number> {
  checkName(name);
  checkKey(key);
  if (!(await cp.deleteSecret(name, key))) {
    const names = await cp.secretNames(name);
    throw new ControlCliError(`${name} has no secret ${key} (${names.length ? `its secrets: ${names.join(', ')}` : 'it has none'})`);
  }
  io.out(`${name}: secret ${key} deleted`);
  return 0;
}

/**
 * The value from stdin: all of it from a pipe (one trailing newline dropped: `echo` adds it),
 * or one hidden line from a terminal.
 */
export async function readSecretValue(io: Io): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const c of stdin as AsyncIterable<Buffer>) {
      chunks.push(c);
      bytes += c.length;
      if (bytes > MAX_SECRET_BYTES + 2) break;
    }
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write('value (not shown): ');
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (b: Buffer) => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done(value);
          if (ch === '\u0003') return fail();
          if (ch === '\u007f') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const done = (v: string) => {
        stdin.off('data', onData);
        resolve(v);
      };
      const fail = () => {
        stdin.off('data', onData);
        reject(new ControlCliError('cancelled; nothing was set'));
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    io.err('');
  }
}
