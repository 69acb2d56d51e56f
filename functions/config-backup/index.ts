/**
 * Receives config backups and crash dumps (`copy running-config tftp:`, a BMC's dump) and
 * stores them in a bucket under `backups/<client-ip>/<yyyy-mm-dd>/<filename>` (issue 15).
 *
 * The function only says where the bytes go (s3Put); the gateway receives them and streams
 * them into the bucket, visible only once the last block has arrived. It needs, in the
 * gateway config: `functions["config-backup"].writes: true` (uploads reach it at all), and
 * usually `allowOverwrite: true` (a second backup of the same file on the same day replaces
 * the first; without it that one gets ERROR 6).
 *
 *  - Reads are refused (ERROR 2): backups are written, not served, over TFTP.
 *  - Only a plain filename is taken: one path segment of letters, digits, '.', '_' and '-',
 *    not starting with '.', at most 128 characters; anything else is ERROR 2. The device
 *    cannot choose the folder: the key is built from the address it came from.
 *  - Versions: env.kv keeps the list of the last N (env.vars.KEEP_VERSIONS, default 10)
 *    stored keys per device, newest first, under `config-backup:versions:<ip>`. Keys that fall
 *    off that list are appended to `config-backup:expired:<ip>` for deletion: a function
 *    cannot delete objects, so an operator's job or a bucket lifecycle rule removes them
 *    (docs/UPLOADS.md).
 *
 * vars: BUCKET (default 'backups'), KEEP_VERSIONS (default 10), MAX_NAME (default 128).
 */
import { denied, s3Put, type FunctionEnv, type FunctionRequest, type Handler } from 'tftpfn/sdk';

const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The device's address as a key segment: IPv4-mapped IPv6 as plain IPv4, IPv6 colons kept. */
export function deviceId(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (v4 ? v4[1]! : address).toLowerCase();
}

/** The UTC day, yyyy-mm-dd. */
export function day(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The filename when the path is a plain one, else undefined. */
export function plainFilename(path: string, maxChars = 128): string | undefined {
  if (path.includes('/') || path.length > maxChars || !PLAIN_NAME.test(path)) return undefined;
  return path;
}

/** Records `key` as the newest version of `device`; returns the keys that fell off the last `keep`. */
export async function remember(env: FunctionEnv, device: string, key: string, keep: number): Promise<string[]> {
  const listKey = `config-backup:versions:${device}`;
  const list = ((await env.kv.getJson<string[]>(listKey)) ?? []).filter((k) => k !== key);
  list.unshift(key);
  const expired = list.splice(keep);
  await env.kv.set(listKey, list);
  if (expired.length > 0) {
    const expiredKey = `config-backup:expired:${device}`;
    const before = (await env.kv.getJson<string[]>(expiredKey)) ?? [];
    // Bounded, in case nobody ever collects them.
    await env.kv.set(expiredKey, [...before, ...expired].slice(-1000));
  }
  return expired;
}

export function makeHandler(now: () => Date = () => new Date()): Handler {
  return async (request: FunctionRequest, env: FunctionEnv) => {
    if (request.kind !== 'write') return denied('backups are write-only');
    const name = plainFilename(request.path, Number(env.vars.MAX_NAME ?? 128));
    if (!name) return denied('give a plain filename');
    const device = deviceId(request.peer.address);
    const key = `backups/${device}/${day(now())}/${name}`;
    const keep = Math.max(1, Number.parseInt(env.vars.KEEP_VERSIONS ?? '10', 10) || 10);
    const expired = await remember(env, device, key, keep);
    env.log.info({ device, key, tsize: request.tsize, expired: expired.length }, 'backup accepted');
    return s3Put({ bucket: env.vars.BUCKET ?? 'backups', key, contentType: name.endsWith('.txt') || name.endsWith('.cfg') ? 'text/plain' : undefined });
  };
}

export const handle: Handler = makeHandler();
