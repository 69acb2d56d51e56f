/**
 * How the Redis control plane talks to Redis: every step waits for the connection (bounded by
 * readyWaitMs, since the connection fails fast by design and never queues: redis/connection.ts),
 * on a Cluster for every master too, and a failure reaches the caller as a ControlPlaneError
 * saying what was being done ("cannot read the rollout of grub in Redis: WRONGTYPE ..."), as the
 * folder plane's errors do. endConnection closes a connection the plane owns.
 */
import { Cluster, type Redis } from 'ioredis';
import { ControlPlaneError } from './control-plane.js';

export class RedisIo {
  constructor(
    private readonly client: Redis | Cluster,
    private readonly readyWaitMs: number,
    /** True once the plane is closed: every step is refused from then on. */
    private readonly isClosed: () => boolean,
  ) {}

  /** One Redis step: waits for the connection (bounded), and names what failed as a ControlPlaneError. */
  async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.ready();
    await this.clusterNodesReady();
    try {
      return await fn();
    } catch (e) {
      throw e instanceof ControlPlaneError ? e : this.error(e, what);
    }
  }

  error(e: unknown, what: string): ControlPlaneError {
    return new ControlPlaneError(`cannot ${what} in Redis: ${(e as Error).message}`);
  }

  /** Waits for the connection to be ready (bounded); the connection itself never queues. */
  async ready(): Promise<void> {
    if (this.isClosed()) throw new ControlPlaneError('the control plane is closed');
    if (this.client.status === 'ready' && this.writable()) return;
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
   * Between the server going away and ioredis's 'close' the status still says "ready", but the
   * socket takes no more writes and, with the offline queue off, a command fails with "Stream
   * isn't writeable" (ioredis Redis.js sendCommand) instead of waiting: so a call made then waits
   * for the reconnect like any other (seen in the outage test under load). A Cluster has no one
   * stream; its nodes are checked by clusterNodesReady.
   */
  private writable(): boolean {
    const stream = (this.client as Partial<Pick<Redis, 'stream'>>).stream;
    return stream === undefined || stream.writable;
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
}

/**
 * QUIT when connected (replies in flight are delivered), then disconnect() in every case: it
 * also stops reconnecting and, behind Sentinel, closes the connections to the Sentinels (the
 * failover detector's), which QUIT alone leaves open.
 */
export async function endConnection(c: Redis | Cluster): Promise<void> {
  if (c.status === 'ready') {
    try {
      await c.quit();
    } catch {
      // closed already, or not answering: disconnect below
    }
  }
  c.disconnect();
}
