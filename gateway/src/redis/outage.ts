/**
 * One Redis outage at a time, as its users log it: the first down() starts an outage (one warn
 * line), later ones while it lasts are the same outage (no line), and the first up() ends it
 * (one info line: how long it lasted). Shared by the cache (cache/redis-kv.ts) and usable by
 * the stats sink, so "unavailable" and "reconnected" mean the same thing in both logs.
 *
 * Pure: the clock is injected; the caller decides what to log and what to count.
 */
export class RedisOutage {
  private down = false;
  private sinceMs = 0;

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** An outage is in progress: it has been reported, and its end will be. */
  get active(): boolean {
    return this.down;
  }

  /** True when this call starts an outage (report it); false while one is already on. */
  start(): boolean {
    if (this.down) return false;
    this.down = true;
    this.sinceMs = this.nowMs();
    return true;
  }

  /** How long the outage lasted (whole ms) when this call ends one; undefined when none was on. */
  end(): number | undefined {
    if (!this.down) return undefined;
    this.down = false;
    return Math.round(this.nowMs() - this.sinceMs);
  }
}
