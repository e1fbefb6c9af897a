import { type Clock, sleep, systemClock } from './clock.ts';

/** Tokens and the time they were counted: the state of one bucket (one per caller when keyed). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** Rate and size, shared by every bucket of a limiter; rebuilt on reconfigure. */
export interface BucketShape {
  /** Tokens added per millisecond. */
  readonly perMs: number;
  readonly burst: number;
}

export function bucketShape(perSecond: number, burst: number): BucketShape {
  return Object.freeze({ perMs: perSecond / 1000, burst });
}

/** Adds the tokens earned since `state.at`, capped at the burst. No timer: refilled when read. */
export function refillBucket(state: BucketState, shape: BucketShape, now: number): void {
  const elapsed = now - state.at;
  if (elapsed > 0) {
    state.tokens = Math.min(shape.burst, state.tokens + elapsed * shape.perMs);
    state.at = now;
  }
}

/**
 * Takes one token. Returns 0 when it got one, otherwise the milliseconds until a token will be
 * there (at least 1), for `Retry-After`.
 */
export function takeBucketToken(state: BucketState, shape: BucketShape, now: number): number {
  refillBucket(state, shape, now);
  if (state.tokens >= 1) {
    state.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil((1 - state.tokens) / shape.perMs));
}

/**
 * One token bucket on an injected clock: `burst` tokens at once, `perSecond` sustained, counted
 * from the clock when read (no timer). Starts full. Many buckets of one shape (one per caller)
 * use the functions above on their own states instead.
 */
export class TokenBucket {
  private shape: BucketShape;
  private readonly state: BucketState;
  private readonly clock: Clock;

  /** `shape`: from `bucketShape(perSecond, burst)`. */
  constructor(shape: BucketShape, clock: Clock = systemClock) {
    this.shape = shape;
    this.clock = clock;
    this.state = { tokens: shape.burst, at: clock.now() };
  }

  /** Tokens there now (fractional). */
  get available(): number {
    refillBucket(this.state, this.shape, this.clock.now());
    return this.state.tokens;
  }

  /** Takes a token: 0 when granted, else the ms until one is there (at least 1); nothing taken then. */
  tryTake(): number {
    return takeBucketToken(this.state, this.shape, this.clock.now());
  }

  /**
   * Takes a token, waiting on the clock until one is there; rejects with the signal's reason
   * when it aborts while waiting.
   */
  async take(signal?: AbortSignal): Promise<void> {
    const wait = this.tryTake();
    if (wait === 0) return;
    await sleep(wait, signal, this.clock);
    // The token waited for is the one spent; nothing is owed beyond it.
    refillBucket(this.state, this.shape, this.clock.now());
    this.state.tokens = Math.max(0, this.state.tokens - 1);
  }

  /** A new rate and burst; the tokens earned so far are kept (capped at the new burst). */
  reconfigure(shape: BucketShape): void {
    refillBucket(this.state, this.shape, this.clock.now());
    this.shape = shape;
    this.state.tokens = Math.min(this.state.tokens, shape.burst);
  }
}
