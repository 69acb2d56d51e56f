/**
 * Which Redis a gateway (or a CLI command) talks to, named by one URL so that the one config
 * field `redisUrl`, `TFTPFN_REDIS_URL` and every command's `--redis-url` can name any of the
 * three topologies ioredis supports (docs/REDIS.md):
 *
 *   redis://[USER:PASSWORD@]HOST:PORT[/DB]          one server (rediss:// for TLS)
 *   redis-sentinel://[USER:PASSWORD@]H1:P1,H2:P2/MASTER[/DB]
 *                                                   the master Sentinel names MASTER; the
 *                                                   client asks the Sentinels, and again after
 *                                                   a failover (ports default to 26379)
 *   redis-cluster://[USER:PASSWORD@]H1:P1,H2:P2     a Redis Cluster, from these seed nodes
 *                                                   (ports default to 6379; database 0 only)
 *
 * A comma list of hosts is not a WHATWG URL, so the two new schemes are parsed here by hand.
 * The credentials are the data nodes' (a Sentinel with a password of its own is not covered).
 * Pure: no I/O; a bad value throws RedisUrlError whose message says what to write instead.
 */

export interface RedisHostPort {
  readonly host: string;
  readonly port: number;
}

export type RedisSpec =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisHostPort[];
      /** The master's name in the Sentinels' configuration (`sentinel monitor NAME …`). */
      readonly name: string;
      readonly db: number;
      readonly username?: string;
      readonly password?: string;
    }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly RedisHostPort[];
      readonly username?: string;
      readonly password?: string;
    };

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

export const REDIS_URL_FORMS =
  'redis://HOST:PORT[/DB] (rediss:// for TLS), redis-sentinel://H1:P1,H2:P2/MASTER[/DB] or redis-cluster://H1:P1,H2:P2';

const MULTI = /^(redis-sentinel|redis-cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)(?:\/([^/?#]*))?(?:\/([^/?#]*))?$/;

export function parseRedisUrl(url: string): RedisSpec {
  if (/^rediss?:\/\//.test(url)) return { kind: 'single', url };
  if (/^rediss-(sentinel|cluster):\/\//.test(url)) {
    throw new RedisUrlError('TLS to Sentinel or Cluster is not supported: use redis-sentinel:// or redis-cluster://, or rediss:// to one server');
  }
  const m = MULTI.exec(url);
  if (!m) throw new RedisUrlError(`use ${REDIS_URL_FORMS}`);
  const [, scheme, user, pass, hostList, name, db] = m;
  const credentials = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass !== undefined && pass !== '' ? { password: decodeURIComponent(pass) } : {}),
  };
  if (scheme === 'redis-cluster') {
    if (name !== undefined && name !== '') {
      throw new RedisUrlError('a Redis Cluster has database 0 only and no master name: use redis-cluster://H1:P1,H2:P2 (no path)');
    }
    return { kind: 'cluster', nodes: hostPorts(hostList, 6379), ...credentials };
  }
  if (!name) throw new RedisUrlError('name the master Sentinel monitors: redis-sentinel://H1:P1,H2:P2/MASTER[/DB], e.g. redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster');
  let dbIndex = 0;
  if (db !== undefined && db !== '') {
    if (!/^\d{1,5}$/.test(db)) throw new RedisUrlError(`the database after the master name is a number, got "${db}": redis-sentinel://H1:P1,H2:P2/MASTER/0`);
    dbIndex = Number(db);
  }
  return { kind: 'sentinel', sentinels: hostPorts(hostList, 26379), name: decodeURIComponent(name), db: dbIndex, ...credentials };
}

/** What is wrong with `url` as a redisUrl (the fix included), or undefined when it parses. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (e) {
    if (e instanceof RedisUrlError) return e.message;
    throw e;
  }
}

/** `h1:p1,h2,[::1]:p3` → host and port each, or a RedisUrlError naming the bad one. */
function hostPorts(list: string, defaultPort: number): RedisHostPort[] {
  const out: RedisHostPort[] = [];
  for (const raw of list.split(',')) {
    const item = raw.trim();
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(item);
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!m || port < 1 || port > 65535) throw new RedisUrlError(`"${item}" is not HOST:PORT (e.g. 10.0.0.1:26379 or [::1]:26379)`);
    out.push({ host: m[1] ?? m[2], port });
  }
  return out;
}

/** The URL with any password masked, fit for logs (any of the three forms). */
export function redactRedisUrl(url: string): string {
  if (/^redis-(sentinel|cluster):\/\//.test(url)) {
    return redisUrlProblem(url) === undefined ? url.replace(/^([a-z-]+:\/\/[^:@/]*):[^@/]+@/, '$1:***@') : '(invalid redis url)';
  }
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid redis url)';
  }
}
