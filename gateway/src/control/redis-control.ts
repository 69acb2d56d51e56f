/**
 * The control plane over Redis and the bucket: what a fleet deploys to.
 *
 * Bundles go to the bucket, content-addressed (bucket-bundles.ts): the same code is uploaded
 * once however often it is published, and a gateway checks the sha256 of what it downloads
 * against the version record. Records, rollouts, acks and sealed secrets live in Redis under
 * keys.ts's layout: every key of one function carries the hash tag `{fn:NAME}`, so each script
 * touches one Cluster slot, and the fleet-wide keys (the function set, presence) are
 * single-key commands. No KEYS or SCAN.
 *
 * Atomic steps are Lua scripts on one function's slot (redis-scripts.ts): handing out the
 * publish time (ids strictly increase), adding a version and pruning beyond MAX_VERSIONS while
 * reading the rollout (so a pruned version can never be one a rollout names), and replacing the
 * rollout with revision + 1 after checking its versions exist (so a rollout never names a
 * missing version). A changed rollout is announced on pub/sub; watch() is redis-watch.ts.
 *
 * The plane owns what it is given: close() ends the Redis connection, the subscriber and the
 * bucket store. Calls made while Redis is connecting wait for it up to readyWaitMs, then fail
 * with a ControlPlaneError naming what was being done (redis-io.ts).
 */
import type { Cluster, Redis } from 'ioredis';
import type { WritableObjectStore } from '../objects/object-store.js';
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
import { BucketBundles } from './bucket-bundles.js';
import { checkPublishInput } from './bundle-check.js';
import { controlKeys, functionKeys } from './keys.js';
import { checkGatewayId, checkSecretName } from './names.js';
import { endConnection, RedisIo } from './redis-io.js';
import { ADD_VERSION_LUA, NEXT_TIME_LUA, SET_ROLLOUT_LUA } from './redis-scripts.js';
import { RolloutWatch } from './redis-watch.js';
import { checkFunctionName, checkRolloutRequest, checkVersionId, rolloutVersions } from './rollout-rules.js';
import { openAll, sealForSlot } from './sealed-secrets.js';
import { VERSION_ID } from './version-id.js';
import { newVersionRecord } from './version-record.js';

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

export class RedisControlPlane implements ControlPlane {
  readonly kind = 'redis' as const;
  private readonly client: Redis | Cluster;
  /** The same connection, typed for commands (Cluster takes the same ones). */
  private readonly redis: Redis;
  private readonly bundles: BucketBundles;
  private readonly secretsKey: Uint8Array | undefined;
  private readonly redisIo: RedisIo;
  private readonly rolloutWatch: RolloutWatch;
  private closed = false;

  constructor(opts: RedisControlOptions) {
    this.client = opts.redis;
    this.redis = opts.redis as unknown as Redis;
    // Failures reach callers as rejected calls; without a listener ioredis would also print
    // every failed reconnect ("Unhandled error event") when the caller attached none.
    this.client.on('error', () => undefined);
    this.bundles = new BucketBundles(opts.bucket, opts.bucketName, opts.prefix);
    this.secretsKey = opts.secretsKey;
    this.redisIo = new RedisIo(this.client, opts.readyWaitMs ?? 5000, () => this.closed);
    this.rolloutWatch = new RolloutWatch(this.client, () => this.functions());
  }

  async publish(name: string, input: PublishInput, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<VersionRecord> {
    checkFunctionName(name);
    checkPublishInput(name, input.code, input.sha256);
    // The bundle first: a record never names a bundle that is not in the bucket.
    await this.bundles.store(name, input.sha256, input.code, input.map, onProgress);
    await this.redisIo.ready();
    const k = functionKeys(name);
    for (let attempt = 0; ; attempt++) {
      const ms = Number(await this.io(`publish ${name}`, () => this.redis.eval(NEXT_TIME_LUA, 2, k.clock, k.versions, String(Date.now()))));
      const record = newVersionRecord(name, input, ms);
      const id = record.id;
      try {
        await this.redis.eval(ADD_VERSION_LUA, 3, k.versions, k.version(id), k.rollout, id, String(ms), JSON.stringify(record), String(MAX_VERSIONS), k.versionPrefix);
      } catch (e) {
        // Only if the clock key was lost (a flushed or failed-over Redis) can an id repeat.
        if (String((e as Error).message).startsWith('EXISTS') && attempt < 5) continue;
        throw this.redisIo.error(e, `publish ${name}`);
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
    await this.redisIo.ready();
    const k = functionKeys(name);
    const body = JSON.stringify({ ...request, updatedAt: new Date().toISOString() });
    let doc: string;
    try {
      doc = String(await this.redis.eval(SET_ROLLOUT_LUA, 2, k.rollout, k.versions, body, request.stable, ...rolloutVersions(request)));
    } catch (e) {
      const m = /UNKNOWN (\S+)/.exec(String((e as Error).message));
      if (m) throw new ControlPlaneError(`function "${name}" has no version ${m[1]}; "tftpfn versions ${name}" lists them`);
      throw this.redisIo.error(e, `set the rollout of ${name}`);
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
    return this.bundles.fetch(record);
  }

  watch(listener: (name: string) => void): () => void {
    if (this.closed) throw new ControlPlaneError('the control plane is closed');
    return this.rolloutWatch.add(listener);
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

  async leave(gatewayId: string): Promise<void> {
    checkGatewayId(gatewayId);
    // The presence key first: it alone makes a gateway live (the set only lists ids to look up,
    // and liveGateways prunes an id whose key is gone). Two slots, two single-key commands.
    await this.io(`remove the presence of ${gatewayId}`, async () => {
      await this.redis.del(controlKeys.gateway(gatewayId));
      await this.redis.srem(controlKeys.gateways, gatewayId);
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
    const sealed = sealForSlot(this.secretsKey, name, key, value);
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
    return openAll(this.secretsKey, name, await this.io(`read the secrets of ${name}`, () => this.redis.hgetall(functionKeys(name).secrets)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rolloutWatch.close();
    await endConnection(this.client);
    await this.bundles.close();
  }

  private io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.redisIo.io(what, fn);
  }
}
