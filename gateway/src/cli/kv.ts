/**
 * `tftpfn kv`: the key-value store functions read through `env.kv`, from the command line.
 *
 *   tftpfn kv import inventory.json    every machine to machine:<mac|ip>, the default to machine:default
 *   tftpfn kv get KEY | set KEY VALUE|@FILE [--ttl S] | del KEY
 *
 * Keys are the ones a function passes to env.kv: the gateway stores them under its Redis key
 * prefix and the 'kv:' namespace (see functionKv in runtime/function-runtime.ts), so
 * `tftpfn kv set machine:default ...` is the Redis key `tftpfn:kv:machine:default`, which
 * `env.kv.get('machine:default')` reads. Each key is its own SET (no multi-key command), so an
 * import works the same on one server, behind Sentinel or on a Redis Cluster.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { macForms } from '../../../sdk/mac.js';
import { RedisKvStore } from '../cache/redis-kv.js';
import { ENV_KV_NAMESPACE, REDIS_KEY_PREFIX } from '../cache/keyspace.js';
import { redactRedisUrl } from '../redis/connection.js';
import { parseRedisUrl, REDIS_URL_FORMS } from '../redis/redis-spec.js';
import { integer } from './arg-parsers.js';

/** The env.kv namespace inside the gateway's key prefix; functionKv() puts env.kv keys there. */
/** How long to wait for Redis to accept a connection before saying it cannot be reached. */
const CONNECT_WAIT_MS = 5000;
/** env.kv's own key rule (sdk/kv-binding.ts): a key the CLI writes must be one a function can read. */
const MAX_KEY_CHARS = 512;

class KvCliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

interface Flags {
  redisUrl?: string;
}

function redisUrlOption(): Option {
  return new Option('--redis-url <url>', `Redis, ${REDIS_URL_FORMS} (the gateway's "redisUrl")`).env('TFTPFN_REDIS_URL');
}

export function kvCommand(): Command {
  const kv = new Command('kv')
    .description("read and write the key-value store functions see as env.kv (Redis), e.g. a machine inventory")
    .addHelpText(
      'after',
      [
        '',
        'Keys are as functions name them in env.kv; in Redis they are prefixed "tftpfn:kv:".',
        '',
        'Examples:',
        '  tftpfn kv import functions/grub/inventory.json --redis-url redis://127.0.0.1:6379',
        '  tftpfn kv get machine:52:54:00:12:34:56',
        '  tftpfn kv set machine:default @default-entry.json',
        '  tftpfn kv set motd "hello" --ttl 3600',
        '  tftpfn kv del machine:10.0.0.7',
      ].join('\n'),
    );
  kv.addCommand(
    new Command('import')
      .description('write each machine of an inventory JSON file to machine:<mac|ip>, and its default to machine:default')
      .argument('<inventory>', 'a JSON file: { "default": {...}, "machines": { "<mac or ip>": {...} } }')
      .addOption(redisUrlOption())
      .action(async (file: string, flags: Flags) => {
        process.exitCode = await runWith('import', flags, (store) => importInventory(store, file));
      }),
  );
  kv.addCommand(
    new Command('get')
      .description('print the value of a key (exit 1 when it is absent)')
      .argument('<key>')
      .addOption(redisUrlOption())
      .action(async (key: string, flags: Flags) => {
        process.exitCode = await runWith('get', flags, async (store) => {
          const value = await store.get(checkKey(key));
          checkReached(store, 'read');
          if (value === undefined) throw new KvCliError(`no key "${key}" (Redis key ${store.keyPrefix}${key})`);
          process.stdout.write(value);
          // A terminal gets its prompt back on a line of its own; a pipe gets the bytes as stored.
          if (process.stdout.isTTY && value[value.length - 1] !== 0x0a) process.stdout.write('\n');
        });
      }),
  );
  kv.addCommand(
    new Command('set')
      .description('set a key to a value, or to the contents of a file with @FILE')
      .argument('<key>')
      .argument('<value>', 'the value as text, or @FILE for the bytes of FILE')
      .option('--ttl <seconds>', 'expire the key after this many seconds (default: never)', integer(1, 10 * 365 * 24 * 3600))
      .addOption(redisUrlOption())
      .action(async (key: string, value: string, flags: Flags & { ttl?: number }) => {
        process.exitCode = await runWith('set', flags, async (store) => {
          const bytes = await valueBytes(value);
          await store.set(checkKey(key), bytes, flags.ttl);
          checkReached(store, 'write');
          console.log(`set ${key} (${bytes.byteLength} bytes${flags.ttl ? `, expires in ${flags.ttl} s` : ''})`);
        });
      }),
  );
  kv.addCommand(
    new Command('del')
      .description('delete a key')
      .argument('<key>')
      .addOption(redisUrlOption())
      .action(async (key: string, flags: Flags) => {
        process.exitCode = await runWith('del', flags, async (store) => {
          await store.del(checkKey(key));
          checkReached(store, 'delete');
          console.log(`deleted ${key}`);
        });
      }),
  );
  return kv;
}

/** Connects, runs one verb, closes; turns every failure into a message and an exit code. */
async function runWith(verb: string, flags: Flags, body: (store: RedisKvStore) => Promise<void>): Promise<number> {
  if (!flags.redisUrl) {
    console.error(`tftpfn kv ${verb}: no Redis given: pass --redis-url redis://HOST:PORT or set TFTPFN_REDIS_URL`);
    return 2;
  }
  try {
    parseRedisUrl(flags.redisUrl);
  } catch (e) {
    console.error(`tftpfn kv ${verb}: --redis-url "${redactRedisUrl(flags.redisUrl)}": ${(e as Error).message}`);
    return 2;
  }
  // The store logs an outage once, with its cause: keep that cause for our own error message.
  let cause: string | undefined;
  const logger = pino({ level: 'warn' }, { write: (line: string) => void (cause ??= (JSON.parse(line) as { err?: { message?: string } }).err?.message) });
  const store = new RedisKvStore({ url: flags.redisUrl, keyPrefix: REDIS_KEY_PREFIX + ENV_KV_NAMESPACE, logger });
  try {
    const deadline = Date.now() + CONNECT_WAIT_MS;
    // A refused connection is final for a one-shot command; only a slow one is worth the wait.
    while (!store.available && cause === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // A Cluster: every master's connection open before an import's burst of writes (redis/connection.ts).
    if (store.available) await store.whenConnected(Math.max(0, deadline - Date.now()));
    if (!store.available) {
      throw new KvCliError(
        `cannot reach Redis at ${redactRedisUrl(flags.redisUrl)} (${cause ?? `no connection within ${CONNECT_WAIT_MS} ms`}): is redis-server running there? Check --redis-url or TFTPFN_REDIS_URL`,
      );
    }
    await body(store);
    return 0;
  } catch (e) {
    console.error(`tftpfn kv ${verb}: ${(e as Error).message}`);
    return e instanceof KvCliError ? e.exitCode : 1;
  } finally {
    await store.close();
  }
}

/** The store never rejects (an outage is a miss or a dropped write): the CLI must say so instead. */
function checkReached(store: RedisKvStore, what: string): void {
  if (store.stats.bypassed > 0 || store.stats.errors > 0) {
    throw new KvCliError(`the ${what} did not reach Redis (connection lost or command refused); nothing can be assumed written: try again`);
  }
}

function checkKey(key: string): string {
  if (key === '' || key.length > MAX_KEY_CHARS) throw new KvCliError(`a key is 1 to ${MAX_KEY_CHARS} characters, as env.kv takes it`, 2);
  return key;
}

async function valueBytes(value: string): Promise<Uint8Array> {
  if (!value.startsWith('@')) return Buffer.from(value, 'utf8');
  try {
    return await readFile(value.slice(1));
  } catch (e) {
    throw new KvCliError(`cannot read ${value.slice(1)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * The env.kv key of an inventory key, as the grub and ipxe examples look it up: a MAC in
 * lower-case colon form, an IPv4 address as it is, an IPv6 address in canonical form (the
 * functions look the peer up that way); undefined for anything else.
 */
export function machineKey(key: string): string | undefined {
  const kind = isIP(key);
  if (kind === 4) return key;
  if (kind === 6) {
    const v6 = new URL(`http://[${key}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (!mapped) return v6;
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  // Only separated forms, as the inventory takes them: a bare 12-digit key is as likely a typo.
  if (!/[-:]/.test(key)) return undefined;
  try {
    return macForms(key).colon;
  } catch {
    return undefined;
  }
}

/**
 * Reads and checks the file, then writes every entry. The shape is checked here (keys, one
 * entry per machine, each an object with a kernel); the functions check each entry in full
 * when they read it, and refuse (and log) one that does not validate.
 */
async function importInventory(store: RedisKvStore, file: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new KvCliError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KvCliError(`${file} is not valid JSON (${(e as Error).message})`);
  }
  const entries = inventoryEntries(raw, file);
  if (entries.length === 0) throw new KvCliError(`${file} has no machines and no default: nothing to import`);
  for (const [key, entry] of entries) await store.set(`machine:${key}`, Buffer.from(JSON.stringify(entry)));
  checkReached(store, `import of ${file}`);
  const machines = entries.filter(([k]) => k !== 'default').length;
  const hasDefault = entries.length > machines;
  console.log(
    `imported ${machines} machine(s)${hasDefault ? ' and the default' : ''} from ${file} as ${store.keyPrefix}machine:*`,
  );
  for (const [key] of entries) console.log(`  machine:${key}`);
}

function inventoryEntries(raw: unknown, file: string): [string, unknown][] {
  const fail = (what: string): never => {
    throw new KvCliError(`${file}: ${what}`);
  };
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const checkEntry = (entry: unknown, where: string) => {
    if (!isObject(entry) || typeof entry.kernel !== 'string' || entry.kernel.trim() === '') fail(`${where} must be an object with a "kernel" string`);
  };
  if (!isObject(raw)) return fail('must be a JSON object with "machines" and/or "default"');
  for (const key of Object.keys(raw)) if (key !== 'machines' && key !== 'default') fail(`unknown field ${JSON.stringify(key)} (expected "machines" and "default")`);
  const out = new Map<string, unknown>();
  if (raw.machines !== undefined) {
    if (!isObject(raw.machines)) fail('"machines" must be an object keyed by MAC or IP address');
    for (const [key, entry] of Object.entries(raw.machines as Record<string, unknown>)) {
      const where = `machines[${JSON.stringify(key)}]`;
      const canonical = machineKey(key) ?? fail(`${where}: the key must be a MAC (aa:bb:cc:dd:ee:ff) or an IP address`);
      if (out.has(canonical)) fail(`${where}: the same machine as another key (${canonical})`);
      checkEntry(entry, where);
      out.set(canonical, entry);
    }
  }
  if (raw.default !== undefined) {
    checkEntry(raw.default, 'default');
    out.set('default', raw.default);
  }
  return [...out];
}
