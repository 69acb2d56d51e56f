/**
 * The deploy poll, one of hot reload's triggers (reload.ts): for a runtime given a deploy folder
 * but no control plane, every reloadPollMs it lists the folder's functions so that new ones are
 * discovered and every deploy-folder function is asked for its current version.
 */
import type { Logger } from 'pino';
import type { DeployStore } from './deploy-store.js';

/**
 * Watches a deploy folder: every `intervalMs`, lists its functions and hands them to `step`
 * (which adds the new ones and reloads every deploy-folder function); one poll at a time.
 */
export class DeployPoll {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: DeployStore,
    private readonly log: Logger,
    private readonly step: (names: string[]) => Promise<void>,
  ) {}

  /** Polls once, then every `intervalMs` (the timer does not keep the process alive). */
  async start(intervalMs: number): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Discovers newly deployed functions and reloads changed ones; one poll at a time. */
  poll(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.polling ??= (async () => {
      try {
        await this.step(await this.store.functions());
      } catch (e) {
        this.log.error({ event: 'deployPollError', err: e }, 'cannot read the deploy folder');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /** Stops polling; resolves once a poll under way is over. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }
}
