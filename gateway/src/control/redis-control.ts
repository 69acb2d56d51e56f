/**
 * The control plane over Redis and the bucket: what a fleet deploys to.
 *
 * Bundles go to the bucket, content-addressed (`<prefix>functions/NAME/<sha256>.mjs` and
 * `.mjs.map`): the same code is uploaded once however often it is published, and a gateway
 * checks the sha256 of what it downloads against the version record. Records, rollouts, acks
 * and sealed secrets live in Redis under keys.ts's layout: every key of one function carries
 * the hash tag `{fn:NAME}`, so each script below touches one Cluster slot, and the fleet-wide
 * keys (the function set, presence) are single-key commands. No KEYS or SCAN.
 *
 * Atomic steps are Lua scripts on one function's slot: handing out the publish time (ids
 * strictly increase), adding a version and pruning beyond MAX_VERSIONS while reading the
 * rollout (so a pruned version can never be one a rollout names), and replacing the rollout
 * with revision + 1 after checking its versions exist (so a rollout never names a missing
 * version). A changed rollout is announced on the `tftpfn:ctl:rollouts` channel; watch() holds
 * a second connection (duplicate()) subscribed to it, and after that connection comes back from
 * an outage it reports every function once, since messages sent meanwhile are lost (pub/sub
 * keeps nothing). The gateway's periodic re-read of rollouts (controlPollMs) covers the rest.
 *
 * The plane owns what it is given: close() ends the Redis connection, the subscriber and the
 * bucket store. Calls made while Redis is connecting wait for it up to readyWaitMs, then fail
 * with a ControlPlaneError (the connection fails fast by design: redis/connection.ts).
 */
import { Cluster, type Redis } from 'ioredis';
import { ObjectStoreError, type WritableObjectStore } from '../objects/object-store.js';
import {
  ControlPlaneError,
  MAX_VERSIONS,
  type ControlPlane,
  type GatewayAck,
  type GatewayPresence,
  type PublishInput,
  type Rollout,
  type VersionRecord,
} from './control-plane.js';
import { checkPublishInput, verifyBundle } from './bundle-check.js';
import { bundleKeys, controlKeys, functionKeys } from './keys.js';
import { checkGatewayId, checkSecretName } from './names.js';
import { checkFunctionName, checkRolloutRequest, checkVersionId, rolloutVersions } from './rollout-rules.js';
import { openSecret, sealSecret } from './secret-box.js';
import { formatVersionId, VERSION_ID } from './version-id.js';

export interface RedisControlOptions {
  /** From redis/connection.ts connectRedis (one server, Sentinel or Cluster); the plane's from now on. */
  redis: Redis | Cluster;
  /** Where bundles are stored (S3ObjectStore, or LocalBucketStore in tests); closed by close(). */
  bucket: WritableObjectStore;
  /** The bucket's name (controlBucket). */
  bucketName: string;
  /** Key prefix in the bucket, "" or ending in "/" (controlPrefix). */
  prefix: string;
  /** The fleet's secrets key (secret-box.ts); needed by putSecret and secrets(). */
  secretsKey?: Uint8Array;
  /** How long a call waits for a connection that is not ready yet. Default 5000. */
  readyWaitMs?: number;
}

/** The next publish time of a function: now, or its last one + 1 ms. KEYS: clock, versions. ARGV: now ms. */
const NEXT_TIME_LUA = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if newest[2] then last = math.max(last, tonumber(newest[2])) end
local t = math.max(tonumber(ARGV[1]), last + 1)
redis.call('SET', KEYS[1], string.format('%.0f', t))
return string.format('%.0f', t)
`;

/**
 * Adds a version and prunes by retention.ts's rule (oldest first, never a version the rollout
 * names, until at most MAX remain). KEYS: versions, version:ID, rollout. ARGV: id, ms, record
 * JSON, MAX, the version key prefix. Returns the pruned ids.
 */
const ADD_VERSION_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('EXISTS ' .. ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local keep = {}
local r = redis.call('GET', KEYS[3])
if r then
  local ro = cjson.decode(r)
  keep[ro.stable] = true
  if type(ro.canary) == 'table' then keep[ro.canary.version] = true end
end
local count = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
local pruned = {}
if count > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if count <= max then break end
    if not keep[id] then
      redis.call('ZREM', KEYS[1], id)
      redis.call('DEL', ARGV[5] .. id)
      count = count - 1
      pruned[#pruned + 1] = id
    end
  end
end
return pruned
`;

/**
 * Replaces the rollout with revision + 1 once every version it names exists, and remembers the
 * stable it replaces as previousStable (rollout-rules.ts nextPreviousStable, the same rule in
 * Lua). KEYS: rollout, versions. ARGV: the rollout as JSON without its revision, the next
 * stable, then the ids to check.
 */
const SET_ROLLOUT_LUA = `
for i = 3, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then return redis.error_reply('UNKNOWN ' .. ARGV[i]) end
end
local rev = 1
local prevStable = nil
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  rev = (tonumber(c.revision) or 0) + 1
  if c.stable ~= ARGV[2] then prevStable = c.stable else prevStable = c.previousStable end
end
local prev = ''
if type(prevStable) == 'string' then prev = '"previousStable":' .. cjson.encode(prevStable) .. ',' end
local doc = '{"revision":' .. string.format('%d', rev) .. ',' .. prev .. string.sub(ARGV[1], 2)
redis.call('SET', KEYS[1], doc)
return doc
`;

export class RedisControlPlane implements ControlPlane {
  readonly kind = 'redis' as const;
  private readonly client: Redis | Cluster;
  /** The same connection, typed for commands (Cluster takes the same ones). */
  private readonly redis: Redis;
  private readonly bucket: WritableObjectStore;
  private readonly bucketName: string;
  private readonly prefix: string;
  private readonly secretsKey: Uint8Array | undefined;
  private readonly readyWaitMs: number;
  private readonly listeners = new Set<(name: string) => void>();
  private subscriber: Redis | Cluster | undefined;
  private closed = false;

  constructor(opts: RedisControlOptions) {
    this.client = opts.redis;
    this.redis = opts.redis as unknown as Redis;
    // Failures reach callers as rejected calls; without a listener ioredis would also print
    // every failed reconnect ("Unhandled error event") when the caller attached none.
    this.client.on('error', () => undefined);
    this.bucket = opts.bucket;
    this.bucketName = opts.bucketName;
    if (opts.prefix !== '' && !opts.prefix.endsWith('/')) throw new ControlPlaneError(`controlPrefix "${opts.prefix}": use a prefix ending in "/" (e.g. "tftpfn/"), or "" for none`);
    this.prefix = opts.prefix;
    this.secretsKey = opts.secretsKey;
    this.readyWaitMs = opts.readyWaitMs ?? 5000;
  }

  async publish(name: string, input: PublishInput, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<VersionRecord> {
    checkFunctionName(name);
    checkPublishInput(name, input.code, input.sha256);
    // The bundle first: a record never names a bundle that is not in the bucket.
    const objects = bundleKeys(this.prefix, name, input.sha256);
    await this.upload(objects.code, input.code, onProgress);
    if (input.map) await this.upload(objects.map, input.map);
    await this.ready();
    const k = functionKeys(name);
    for (let attempt = 0; ; attempt++) {
      const ms = Number(await this.io(`publish ${name}`, () => this.redis.eval(NEXT_TIME_LUA, 2, k.clock, k.versions, String(Date.now()))));
      const id = formatVersionId(ms, input.sha256);
      const record: VersionRecord = {
        function: name,
        id,
        sha256: input.sha256,
        bytes: input.code.length,
        ...(input.message !== undefined ? { message: input.message } : {}),
        createdAt: new Date(ms).toISOString(),
        author: input.author,
        ...(input.entry !== undefined ? { entry: input.entry } : {}),
        settings: input.settings,
      };
      try {
        await this.redis.eval(ADD_VERSION_LUA, 3, k.versions, k.version(id), k.rollout, id, String(ms), JSON.stringify(record), String(MAX_VERSIONS), k.versionPrefix);
      } catch (e) {
        // Only if the clock key was lost (a flushed or failed-over Redis) can an id repeat.
        if (String((e as Error).message).startsWith('EXISTS') && attempt < 5) continue;
        throw this.redisError(e, `publish ${name}`);
      }
      await this.io(`publish ${name}`, () => this.redis.sadd(controlKeys.functions, name));
      return record;
    }
  }

  async versions(name: string): Promise<VersionRecord[]> {
    checkFunctionName(name);
    const k = functionKeys(name);
    const ids = await this.io(`list the versions of ${name}`, () => this.redis.zrevrange(k.versions, 0, -1));
    if (ids.length === 0) return [];
    // One slot: an MGET is fine on a Cluster.
    const docs = await this.io(`list the versions of ${name}`, () => this.redis.mget(...ids.map((id) => k.version(id))));
    return docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as VersionRecord);
  }

  async version(name: string, id: string): Promise<VersionRecord | undefined> {
    checkFunctionName(name);
    if (!VERSION_ID.test(id)) return undefined;
    const doc = await this.io(`read version ${id} of ${name}`, () => this.redis.get(functionKeys(name).version(id)));
    return doc === null ? undefined : (JSON.parse(doc) as VersionRecord);
  }

  async functions(): Promise<string[]> {
    return (await this.io('list the functions', () => this.redis.smembers(controlKeys.functions))).sort();
  }

  async rollout(name: string): Promise<Rollout | undefined> {
    checkFunctionName(name);
    const doc = await this.io(`read the rollout of ${name}`, () => this.redis.get(functionKeys(name).rollout));
    return doc === null ? undefined : (JSON.parse(doc) as Rollout);
  }

  async setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout> {
    const request = checkRolloutRequest(name, next);
    await this.ready();
    const k = functionKeys(name);
    const body = JSON.stringify({ ...request, updatedAt: new Date().toISOString() });
    let doc: string;
    try {
      doc = String(await this.redis.eval(SET_ROLLOUT_LUA, 2, k.rollout, k.versions, body, request.stable, ...rolloutVersions(request)));
    } catch (e) {
      const m = /UNKNOWN (\S+)/.exec(String((e as Error).message));
      if (m) throw new ControlPlaneError(`function "${name}" has no version ${m[1]}; "tftpfn versions ${name}" lists them`);
      throw this.redisError(e, `set the rollout of ${name}`);
    }
    // Announced after the write: a gateway that hears it reads the new rollout. The rollout is
    // already changed, so a failed announcement is not a failed setRollout: gateways re-read
    // every rollout each controlPollMs and catch up then.
    await this.redis.publish(controlKeys.rolloutsChannel, name).catch(() => undefined);
    return JSON.parse(doc) as Rollout;
  }

  async fetchBundle(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }> {
    checkFunctionName(record.function);
    checkVersionId(record.function, record.id);
    const objects = bundleKeys(this.prefix, record.function, record.sha256);
    const where = `s3://${this.bucketName}/${objects.code}`;
    let code: Buffer;
    try {
      code = Buffer.from(await this.bucket.get({ bucket: this.bucketName, key: objects.code }));
    } catch (e) {
      const why = e instanceof ObjectStoreError ? (e.kind === 'not-found' ? 'it is not in the bucket' : e.message) : (e as Error).message;
      throw new ControlPlaneError(`function "${record.function}": version ${record.id}: cannot fetch its bundle ${where}: ${why}`);
    }
    verifyBundle(record, code, where);
    let map: Buffer | undefined;
    try {
      map = Buffer.from(await this.bucket.get({ bucket: this.bucketName, key: objects.map }));
    } catch {
      // A source map is optional: published without one, or not readable now.
    }
    return map ? { code, map } : { code };
  }

  watch(listener: (name: string) => void): () => void {
    if (this.closed) throw new ControlPlaneError('the control plane is closed');
    this.listeners.add(listener);
    if (!this.subscriber) this.subscribe();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.unsubscribe();
    };
  }

  async ack(ack: GatewayAck): Promise<void> {
    checkFunctionName(ack.function);
    checkGatewayId(ack.gateway);
    await this.io(`record the ack of ${ack.gateway} for ${ack.function}`, () => this.redis.hset(functionKeys(ack.function).acks, ack.gateway, JSON.stringify(ack)));
  }

  async acks(name: string): Promise<GatewayAck[]> {
    checkFunctionName(name);
    return (await this.io(`read the acks of ${name}`, () => this.redis.hvals(functionKeys(name).acks))).map((d) => JSON.parse(d) as GatewayAck);
  }

  async heartbeat(presence: GatewayPresence, ttlMs: number): Promise<void> {
    checkGatewayId(presence.gateway);
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new ControlPlaneError(`heartbeat ttlMs must be a whole number of ms above 0, got ${ttlMs}`);
    // Two slots, two commands: the presence key expires by itself; the set only lists ids to look up.
    await this.io(`record the heartbeat of ${presence.gateway}`, async () => {
      await this.redis.set(controlKeys.gateway(presence.gateway), JSON.stringify(presence), 'PX', ttlMs);
      await this.redis.sadd(controlKeys.gateways, presence.gateway);
    });
  }

  async liveGateways(): Promise<GatewayPresence[]> {
    const { docs } = await this.io('list the live gateways', async () => {
      const ids = (await this.redis.smembers(controlKeys.gateways)).sort();
      const found = await Promise.all(ids.map((id) => this.redis.get(controlKeys.gateway(id))));
      const stale = ids.filter((_, i) => found[i] === null);
      // Expired presences leave the list; a gateway that beats again is added back.
      if (stale.length > 0) await this.redis.srem(controlKeys.gateways, ...stale);
      return { docs: found };
    });
    return docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as GatewayPresence);
  }

  async putSecret(name: string, key: string, value: string): Promise<void> {
    checkFunctionName(name);
    checkSecretName(key);
    const sealed = sealSecret(this.requireKey(), name, key, value);
    await this.io(`store secret ${key} of ${name}`, () => this.redis.hset(functionKeys(name).secrets, key, sealed));
  }

  async deleteSecret(name: string, key: string): Promise<boolean> {
    checkFunctionName(name);
    checkSecretName(key);
    return (await this.io(`delete secret ${key} of ${name}`, () => this.redis.hdel(functionKeys(name).secrets, key))) > 0;
  }

  async secretNames(name: string): Promise<string[]> {
    checkFunctionName(name);
    return (await this.io(`list the secrets of ${name}`, () => this.redis.hkeys(functionKeys(name).secrets))).sort();
  }

  async secrets(name: string): Promise<Record<string, string>> {
    checkFunctionName(name);
    const sealed = await this.io(`read the secrets of ${name}`, () => this.redis.hgetall(functionKeys(name).secrets));
    if (Object.keys(sealed).length === 0) return {};
    const key = this.requireKey();
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(sealed)) out[k] = openSecret(key, name, k, v);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.unsubscribe();
    await endConnection(this.client);
    await this.bucket.close();
  }

  // ── internals

  /** Uploads unless the bucket already has the object with this size (content-addressed: same key, same bytes). */
  private async upload(key: string, bytes: Uint8Array, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
    const ref = { bucket: this.bucketName, key };
    try {
      const info = await this.bucket.head(ref);
      if (info !== 'not-modified' && info.size === bytes.length) {
        onProgress?.(bytes.length, bytes.length);
        return;
      }
    } catch (e) {
      if (!(e instanceof ObjectStoreError && e.kind === 'not-found')) throw this.bucketError(e, key);
    }
    try {
      await this.bucket.put(ref, bytes, onProgress);
    } catch (e) {
      throw this.bucketError(e, key);
    }
  }

  private bucketError(e: unknown, key: string): ControlPlaneError {
    const kind = e instanceof ObjectStoreError ? ` (${e.kind})` : '';
    return new ControlPlaneError(`cannot store s3://${this.bucketName}/${key}${kind}: ${(e as Error).message}; check controlBucket, the S3 settings and that the bucket exists`);
  }

  /** One Redis step: waits for the connection (bounded), and names what failed as a ControlPlaneError. */
  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.ready();
    await this.clusterNodesReady();
    try {
      return await fn();
    } catch (e) {
      throw e instanceof ControlPlaneError ? e : this.redisError(e, what);
    }
  }

  private redisError(e: unknown, what: string): ControlPlaneError {
    return new ControlPlaneError(`cannot ${what} in Redis: ${(e as Error).message}`);
  }

  private requireKey(): Uint8Array {
    if (!this.secretsKey) {
      throw new ControlPlaneError("no secrets key: set secretsKey (TFTPFN_SECRETS_KEY) or secretsKeyFile to the fleet's key; make one with `openssl rand -hex 32`");
    }
    return this.secretsKey;
  }

  /** Waits for the connection to be ready (bounded); the connection itself never queues. */
  private async ready(): Promise<void> {
    if (this.closed) throw new ControlPlaneError('the control plane is closed');
    if (this.client.status === 'ready') return;
    // A connection that gave up (a one-shot command's retry strategy) will never be ready.
    if (this.client.status === 'end') throw new ControlPlaneError('Redis is not reachable (the connection gave up); check redisUrl and that Redis is up');
    const ok = await new Promise<boolean>((resolve) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, this.readyWaitMs);
      this.client.once('ready', onReady);
    });
    if (!ok) throw new ControlPlaneError(`Redis is not reachable (connection ${this.client.status} after ${this.readyWaitMs} ms); check redisUrl and that Redis is up`);
  }

  /**
   * A Cluster connects to each node on its first command, and with the offline queue off
   * (redis/connection.ts) ioredis rejects a command for a node still connecting with
   * "Connection is closed." (ioredis cluster/index.js: neither "ready" nor "wait"): two
   * concurrent first commands to one node lose the second. So every master is connected, and
   * waited for (bounded), before a command is sent; once they are ready this is a check of
   * three statuses.
   */
  private async clusterNodesReady(): Promise<void> {
    if (!(this.client instanceof Cluster)) return;
    const pending = this.client.nodes('master').filter((n) => n.status !== 'ready');
    if (pending.length === 0) return;
    await Promise.all(
      pending.map(
        (node) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              node.off('ready', done);
              resolve();
            };
            const timer = setTimeout(done, this.readyWaitMs);
            node.once('ready', done);
            if (node.status === 'wait') node.connect().catch(() => undefined);
            if (node.status === 'ready') done();
          }),
      ),
    );
  }

  private fire(name: string): void {
    for (const l of [...this.listeners]) {
      try {
        l(name);
      } catch {
        // one listener's throw must not keep the news from the others
      }
    }
  }

  private subscribe(): void {
    const sub = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
    this.subscriber = sub;
    // Reconnects are the connection's own business (retry forever); errors are not news here.
    sub.on('error', () => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel === controlKeys.rolloutsChannel && this.subscriber === sub) this.fire(message);
    });
    let subscribed = false;
    const onReady = () => {
      if (this.subscriber !== sub) return;
      if (!subscribed) {
        subscribed = true;
        // With the offline queue off, subscribe once ready; ioredis subscribes again by itself after each reconnect.
        sub.subscribe(controlKeys.rolloutsChannel).catch(() => {
          subscribed = false;
        });
        return;
      }
      // Back from an outage: whatever was announced meanwhile is lost, so report every function.
      this.functions().then(
        (names) => names.forEach((n) => this.subscriber === sub && this.fire(n)),
        () => undefined,
      );
    };
    sub.on('ready', onReady);
    if (sub.status === 'ready') onReady();
  }

  private unsubscribe(): void {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) sub.disconnect();
  }
}

/**
 * QUIT when connected (replies in flight are delivered), then disconnect() in every case: it
 * also stops reconnecting and, behind Sentinel, closes the connections to the Sentinels (the
 * failover detector's), which QUIT alone leaves open.
 */
async function endConnection(c: Redis | Cluster): Promise<void> {
  if (c.status === 'ready') {
    try {
      await c.quit();
    } catch {
      // closed already, or not answering: disconnect below
    }
  }
  c.disconnect();
}
