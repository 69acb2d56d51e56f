/**
 * The Redis control plane's watch(): a changed rollout is announced on the
 * `tftpfn:ctl:rollouts` channel (keys.ts) with the function's name. A second connection
 * (duplicate(): a subscribed connection takes no other commands) listens while anyone watches;
 * after it comes back from an outage it reports every function once, since messages sent
 * meanwhile are lost (pub/sub keeps nothing). The gateway's periodic re-read of rollouts
 * (controlPollMs) covers the rest.
 */
import { Cluster, type Redis } from 'ioredis';
import { controlKeys } from './keys.js';

export class RolloutWatch {
  private readonly listeners = new Set<(name: string) => void>();
  private subscriber: Redis | Cluster | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    /** Every function with versions: reported after a reconnect. */
    private readonly functions: () => Promise<string[]>,
  ) {}

  /** Calls `listener(name)` on each announcement; returns unsubscribe (the last one ends the connection). */
  add(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    if (!this.subscriber) this.subscribe();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.unsubscribe();
    };
  }

  close(): void {
    this.listeners.clear();
    this.unsubscribe();
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
