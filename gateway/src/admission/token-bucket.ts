/**
 * A token bucket (RFC 2697's "committed burst" idea, as used by routers to police a rate):
 * `ratePerSecond` tokens flow in continuously, at most `burst` are kept, and each request
 * takes one. Pure: the caller passes `nowMs` (any monotonic clock), so tests use a fake one.
 */
export interface TokenBucketConfig {
  /** Tokens added per second; 0 means no tokens ever come back after the burst. */
  readonly ratePerSecond: number;
  /** Most tokens held; a full bucket lets this many requests through at once. */
  readonly burst: number;
}

/** The state of one bucket: what it held at `atMs`. A missing bucket is a full one. */
export interface BucketState {
  tokens: number;
  atMs: number;
}

export function fullBucket(config: TokenBucketConfig, nowMs: number): BucketState {
  return { tokens: config.burst, atMs: nowMs };
}

/** Tokens in the bucket at nowMs (refilled since atMs, capped at burst). */
export function tokensAt(config: TokenBucketConfig, state: BucketState, nowMs: number): number {
  // A clock that goes backwards (it should not) refills nothing rather than draining.
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  return Math.min(config.burst, state.tokens + (elapsedMs * config.ratePerSecond) / 1000);
}

/** Takes one token if there is one; updates `state` either way (refill is remembered). */
export function takeToken(config: TokenBucketConfig, state: BucketState, nowMs: number): boolean {
  state.tokens = tokensAt(config, state, nowMs);
  state.atMs = Math.max(state.atMs, nowMs);
  if (state.tokens < 1) return false;
  state.tokens -= 1;
  return true;
}

/** One bucket on its own (the global limit). */
export class TokenBucket {
  private readonly state: BucketState;
  constructor(private readonly config: TokenBucketConfig, nowMs: number) {
    this.state = fullBucket(config, nowMs);
  }
  take(nowMs: number): boolean {
    return takeToken(this.config, this.state, nowMs);
  }
  tokens(nowMs: number): number {
    return tokensAt(this.config, this.state, nowMs);
  }
}
