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
export function refill(state: BucketState, shape: BucketShape, now: number): void {
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
export function takeToken(state: BucketState, shape: BucketShape, now: number): number {
  refill(state, shape, now);
  if (state.tokens >= 1) {
    state.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil((1 - state.tokens) / shape.perMs));
}
