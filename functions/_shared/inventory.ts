/**
 * The machine inventory the grub and ipxe examples render from: a JSON object mapping a MAC or
 * an IP address to a boot entry, plus an optional `default` entry for machines not listed.
 *
 *   {
 *     "default":  { "hostname": "installer", "kernel": "...", "initrd": "...", "cmdline": "..." },
 *     "machines": { "52:54:00:12:34:56": { ... }, "10.0.0.7": { ... } }
 *   }
 *
 * Each function bundles its own inventory.json; `env.vars.INVENTORY` may name a JSON file read
 * at request time instead, re-read whenever it changes (inode, size or mtime), so an operator
 * edits the fleet without a redeploy. A file that does not validate is an error for every
 * request until it is fixed: serving a stale copy would hide the mistake until the next reboot.
 *
 * Before any of that, the machine is looked up in the shared key-value store (`env.kv`, Redis
 * across the fleet): `machine:<mac>`, `machine:<ip>`, `machine:default`, each holding one entry
 * in the same JSON shape (`tftpfn kv import inventory.json` writes them). The JSON inventory is
 * the fallback when the store has none of those keys, so the examples work with an empty store.
 */
import { readFile, open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { macForms, type FunctionEnv, type FunctionRequest } from 'tftpfn/sdk';

export interface BootEntry {
  readonly hostname: string | undefined;
  /** A path or URL, as the boot loader understands it. */
  readonly kernel: string;
  readonly initrd: readonly string[];
  /** Kernel arguments, already split on whitespace. */
  readonly cmdline: readonly string[];
  readonly menuTimeout: number | undefined;
}

export interface Inventory {
  readonly default: BootEntry | undefined;
  /** Keyed by lower-case colon MAC or canonical IP address. */
  readonly machines: ReadonlyMap<string, BootEntry>;
}

export interface Match {
  readonly entry: BootEntry;
  readonly by: 'mac' | 'ip' | 'default';
  readonly key: string;
  /** Where the entry came from: the key-value store, or the JSON inventory (bundled or INVENTORY). */
  readonly source?: 'kv' | 'inventory';
}

/** A renderer's own rules for values its script language cannot carry: the problem, or undefined. */
export type EntryCheck = (entry: BootEntry, where: string) => string | undefined;

export class InventoryError extends Error {
  override name = 'InventoryError';
}

const ENTRY_FIELDS = new Set(['hostname', 'kernel', 'initrd', 'cmdline', 'menuTimeout']);
const TOP_FIELDS = new Set(['default', 'machines']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// RFC 1123 labels: the hostname also becomes a menu title and an iPXE echo argument.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const MAX_TIMEOUT_S = 3600;

/**
 * Checks an inventory's shape and returns it with MAC and IP keys in canonical form. `source`
 * names where it came from, for the error message.
 */
export function parseInventory(raw: unknown, source: string, check?: EntryCheck): Inventory {
  const fail = (what: string): never => {
    throw new InventoryError(`inventory ${source}: ${what}`);
  };
  if (!isObject(raw)) fail('must be a JSON object with "machines" and/or "default"');
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_FIELDS.has(key)) fail(`unknown field ${JSON.stringify(key)} (expected "machines" and "default")`);
  }
  const entry = (value: unknown, where: string): BootEntry => {
    const e = parseEntry(value, where, fail);
    const problem = check?.(e, where);
    if (problem) fail(problem);
    return e;
  };
  const machines = new Map<string, BootEntry>();
  if (top.machines !== undefined) {
    if (!isObject(top.machines)) fail('"machines" must be an object keyed by MAC or IP address');
    for (const [key, value] of Object.entries(top.machines as Record<string, unknown>)) {
      const where = `machines[${JSON.stringify(key)}]`;
      const canonical = machineKey(key);
      if (canonical === undefined) fail(`${where}: the key must be a MAC (aa:bb:cc:dd:ee:ff) or an IP address`);
      if (machines.has(canonical!)) fail(`${where}: the same machine as another key (${canonical})`);
      machines.set(canonical!, entry(value, where));
    }
  }
  const fallback = top.default === undefined ? undefined : entry(top.default, 'default');
  return { default: fallback, machines };
}

function parseEntry(value: unknown, where: string, fail: (what: string) => never): BootEntry {
  if (!isObject(value)) fail(`${where} must be an object with at least "kernel"`);
  const e = value as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!ENTRY_FIELDS.has(key)) fail(`${where}: unknown field ${JSON.stringify(key)} (expected ${[...ENTRY_FIELDS].join(', ')})`);
  }
  const str = (field: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '') fail(`${where}.${field} must be a non-empty string`);
    // A line break would end the boot loader's command mid-value; no valid value needs one.
    if (CONTROL.test(v as string)) fail(`${where}.${field} must not contain control characters or line breaks`);
    return v as string;
  };
  if (e.hostname !== undefined && !HOSTNAME.test(str('hostname', e.hostname))) {
    fail(`${where}.hostname must be a hostname (letters, digits, "-" and "."), got ${JSON.stringify(e.hostname)}`);
  }
  const kernel = str('kernel', e.kernel);
  let initrd: string[] = [];
  if (typeof e.initrd === 'string') initrd = [str('initrd', e.initrd)];
  else if (Array.isArray(e.initrd)) initrd = e.initrd.map((v, i) => str(`initrd[${i}]`, v));
  else if (e.initrd !== undefined) fail(`${where}.initrd must be a string or an array of strings`);
  const cmdline = e.cmdline === undefined ? [] : str('cmdline', e.cmdline).trim().split(/\s+/);
  const t = e.menuTimeout;
  if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= MAX_TIMEOUT_S)) {
    fail(`${where}.menuTimeout must be a whole number of seconds from 0 to ${MAX_TIMEOUT_S}`);
  }
  return { hostname: e.hostname as string | undefined, kernel, initrd, cmdline, menuTimeout: t as number | undefined };
}

/** A MAC in colon form or an IP address in canonical form; undefined for anything else. */
function machineKey(key: string): string | undefined {
  if (isIP(key)) return canonicalIp(key);
  // Only separated forms: a bare 12-digit key is as likely a typo as a MAC.
  if (!/[-:]/.test(key)) return undefined;
  try {
    return macForms(key).colon;
  } catch {
    return undefined;
  }
}

/**
 * One spelling per address, so "2001:DB8:0::1" in the file matches the peer "2001:db8::1", and
 * an IPv4 client seen through a dual-stack socket ("::ffff:10.0.0.7") matches "10.0.0.7".
 */
export function canonicalIp(address: string): string {
  const kind = isIP(address);
  if (kind === 4 || kind === 0) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  const v6 = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!hexMapped) return v6;
  const hi = parseInt(hexMapped[1], 16);
  const lo = parseInt(hexMapped[2], 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** The entry for a request: its MAC first, then the client's IP, then the default. */
export function lookup(inventory: Inventory, request: FunctionRequest, mac = request.mac): Match | undefined {
  if (mac !== undefined) {
    const entry = inventory.machines.get(mac);
    if (entry) return { entry, by: 'mac', key: mac };
  }
  const ip = canonicalIp(request.peer.address);
  const byIp = inventory.machines.get(ip);
  if (byIp) return { entry: byIp, by: 'ip', key: ip };
  return inventory.default && { entry: inventory.default, by: 'default', key: 'default' };
}

interface CachedFile {
  readonly file: string;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly inventory: Inventory;
}

/**
 * Loads the inventory for one request: the bundled one, or the file `env.vars.INVENTORY`
 * names. A failure is logged with its reason and thrown, so the client gets ERROR 0.
 */
export function inventorySource(builtin: unknown, check?: EntryCheck): (env: FunctionEnv) => Promise<Inventory> {
  let bundled: Inventory | undefined;
  let cached: CachedFile | undefined;

  const fromFile = async (file: string): Promise<Inventory> => {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (e) {
      throw new InventoryError(`inventory ${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      // Stat the handle we read from, so the stat and the bytes describe the same file even
      // when it is replaced by a rename in between.
      const st = await handle.stat();
      if (cached && cached.file === file && cached.ino === st.ino && cached.size === st.size && cached.mtimeMs === st.mtimeMs) {
        return cached.inventory;
      }
      const text = await readFile(handle, 'utf8');
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new InventoryError(`inventory ${file}: not valid JSON (${(e as Error).message})`);
      }
      const inventory = parseInventory(raw, file, check);
      cached = { file, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, inventory };
      return inventory;
    } finally {
      await handle.close();
    }
  };

  return async (env) => {
    const file = env.vars.INVENTORY;
    try {
      if (file) return await fromFile(file);
      bundled ??= parseInventory(builtin, 'inventory.json (bundled)', check);
      return bundled;
    } catch (e) {
      env.log.error({ inventory: file ?? 'bundled', reason: (e as Error).message }, 'inventory rejected');
      throw e;
    }
  };
}

/** The env.kv key of one machine entry: `machine:` + a colon MAC, a canonical IP, or `default`. */
export function machineKvKey(key: string): string {
  return `machine:${key}`;
}

/**
 * The entry for a request from env.kv: its MAC first, then the client's IP, then
 * `machine:default`; undefined when the store has none of them (or is unreachable, which reads
 * as a miss). The three reads go out together: one round trip to Redis, not three. A value that
 * is not a valid entry is logged and thrown, as a bad inventory file is, so the client gets
 * ERROR 0 rather than a boot entry nobody wrote.
 */
export async function kvLookup(env: FunctionEnv, request: FunctionRequest, mac = request.mac, check?: EntryCheck): Promise<Match | undefined> {
  const candidates: [Match['by'], string][] = [
    ...(mac !== undefined ? [['mac', mac] as [Match['by'], string]] : []),
    ['ip', canonicalIp(request.peer.address)],
    ['default', 'default'],
  ];
  const values = await Promise.all(candidates.map(([, key]) => env.kv.get(machineKvKey(key))));
  const at = values.findIndex((v) => v !== undefined);
  if (at < 0) return undefined;
  const [by, key] = candidates[at];
  const kvKey = machineKvKey(key);
  try {
    const fail = (what: string): never => {
      throw new InventoryError(`env.kv ${what}`);
    };
    let raw: unknown;
    try {
      raw = JSON.parse(values[at]!);
    } catch (e) {
      fail(`${kvKey}: not valid JSON (${(e as Error).message})`);
    }
    const entry = parseEntry(raw, kvKey, fail);
    const problem = check?.(entry, kvKey);
    if (problem) fail(problem);
    return { entry, by, key, source: 'kv' };
  } catch (e) {
    env.log.error({ inventory: `env.kv ${kvKey}`, reason: (e as Error).message }, 'inventory rejected');
    throw e;
  }
}

/**
 * Finds a request's machine: in env.kv first (see kvLookup), else in the JSON inventory
 * (bundled, or the file `env.vars.INVENTORY` names). The store wins as a whole: when it holds
 * any of the request's keys, default included, the JSON inventory is not read.
 */
export function machineFinder(builtin: unknown, check?: EntryCheck): (env: FunctionEnv, request: FunctionRequest, mac?: string) => Promise<Match | undefined> {
  const loadInventory = inventorySource(builtin, check);
  return async (env, request, mac = request.mac) => {
    const fromKv = await kvLookup(env, request, mac, check);
    if (fromKv) return fromKv;
    const match = lookup(await loadInventory(env), request, mac);
    return match && { ...match, source: 'inventory' };
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
