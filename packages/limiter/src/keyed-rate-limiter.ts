import {
  type BucketShape,
  type BucketState,
  type Clock,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  refillBucket,
  systemClock,
  takeBucketToken,
} from '@meshless/core';
import type { RateLimitRule } from './limiter-rules.ts';
import {
  type RateLimitOptions,
  type RateLimitRejection,
  resolveRateLimit,
  runIfAdmitted,
} from './rate-limit-policy.ts';

/**
 * One token bucket per key (the calling service, for inbound `perCaller: true`), all with the
 * same rate and burst. At most `maxCallers` keys are tracked; the least recently seen is
 * forgotten first, and a forgotten caller comes back with a full bucket.
 */
export class KeyedRateLimiter implements Disposable {
  readonly resource: string;
  private readonly clock: Clock;
  private shape: BucketShape;
  private maxKeys: number;
  /** Insertion order is recency order: a hit moves its key to the end. */
  private readonly buckets = new Map<string, BucketState>();
  private readonly rejected = new Emitter<RateLimitRejection>();

  /** Fires for every call turned away. */
  readonly onDidReject: Event<RateLimitRejection> = this.rejected.event;

  constructor(options: RateLimitOptions = {}) {
    const { shape, maxCallers } = resolveRateLimit(options);
    this.shape = shape;
    this.maxKeys = maxCallers;
    this.resource = options.resource ?? 'rate-limit';
    this.clock = options.clock ?? systemClock;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token for `key`: 0 when granted, else ms until one is there. */
  tryAcquire(key: string): number {
    const now = this.clock.now();
    let state = this.buckets.get(key);
    if (state) {
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      state = { tokens: this.shape.burst, at: now };
    }
    this.buckets.set(key, state);
    return takeBucketToken(state, this.shape, now);
  }

  execute<T>(key: string, fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    return runIfAdmitted(this.tryAcquire(key), fn, signal, this.rejected, this.resource, key);
  }

  /** New rate, burst and key bound live; buckets keep their tokens (capped at the new burst). */
  reconfigure(options: RateLimitRule): void {
    const { shape, maxCallers } = resolveRateLimit(options);
    const now = this.clock.now();
    for (const state of this.buckets.values()) {
      refillBucket(state, this.shape, now);
      state.tokens = Math.min(state.tokens, shape.burst);
    }
    this.shape = shape;
    this.maxKeys = maxCallers;
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }

  dispose(): void {
    this.buckets.clear();
    this.rejected.dispose();
  }
}
