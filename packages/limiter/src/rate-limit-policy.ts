import {
  type Clock,
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  type Policy,
  RateLimitedError,
  systemClock,
} from '@meshless/core';
import { parseRule, RATE_LIMIT_KEYS, type RateLimitRule, rateLimitRuleSchema } from './limiter-rules.ts';
import { type BucketShape, type BucketState, bucketShape, refill, takeToken } from './token-bucket.ts';

export interface RateLimitOptions extends RateLimitRule {
  /** Named in errors and events. Default 'rate-limit'. */
  resource?: string;
  clock?: Clock;
}

export interface RateLimitRejection {
  readonly resource: string;
  /** The caller key, for a KeyedRateLimiter. */
  readonly key: string | undefined;
  readonly retryAfterMs: number;
}

export const RATE_LIMIT_DEFAULTS = Object.freeze({ perSecond: 100, maxCallers: 10_000 });

/** Validates a rate-limit rule and builds the bucket shape (burst defaults to perSecond, rounded up). */
export function resolveRateLimit(options: RateLimitRule): { shape: BucketShape; maxCallers: number } {
  const rule = parseRule('rateLimit', rateLimitRuleSchema, RATE_LIMIT_KEYS, options);
  const perSecond = rule.perSecond ?? RATE_LIMIT_DEFAULTS.perSecond;
  return {
    shape: bucketShape(perSecond, rule.burst ?? Math.ceil(perSecond)),
    maxCallers: rule.maxCallers ?? RATE_LIMIT_DEFAULTS.maxCallers,
  };
}

/**
 * Token bucket: `burst` calls at once, `perSecond` sustained. Tokens are counted from the clock
 * when a call arrives (no timer). Over the limit, calls reject at once with RateLimitedError
 * carrying `retryAfterMs`. For one bucket per caller see KeyedRateLimiter.
 */
export class RateLimitPolicy implements Policy, Disposable {
  readonly resource: string;
  private readonly clock: Clock;
  private shape: BucketShape;
  private readonly state: BucketState;
  private readonly rejected = new Emitter<RateLimitRejection>();

  /** Fires for every call turned away. */
  readonly onDidReject: Event<RateLimitRejection> = this.rejected.event;

  constructor(options: RateLimitOptions = {}) {
    this.shape = resolveRateLimit(options).shape;
    this.resource = options.resource ?? 'rate-limit';
    this.clock = options.clock ?? systemClock;
    this.state = { tokens: this.shape.burst, at: this.clock.now() };
  }

  /** Tokens available now (fractional). */
  get available(): number {
    refill(this.state, this.shape, this.clock.now());
    return this.state.tokens;
  }

  /** Takes a token: 0 when granted, else ms until one is there. For callers that do not use execute. */
  tryAcquire(): number {
    return takeToken(this.state, this.shape, this.clock.now());
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const wait = takeToken(this.state, this.shape, this.clock.now());
    return runIfAdmitted(wait, fn, signal, this.rejected, this.resource, undefined);
  }

  /** New rate and burst live; the tokens earned so far are kept (capped at the new burst). */
  reconfigure(options: RateLimitRule): void {
    const shape = resolveRateLimit(options).shape;
    refill(this.state, this.shape, this.clock.now());
    this.state.tokens = Math.min(this.state.tokens, shape.burst);
    this.shape = shape;
  }

  dispose(): void {
    this.rejected.dispose();
  }
}

/**
 * Runs `fn` when a token was granted (`wait` 0), else rejects with RateLimitedError and reports
 * the rejection; shared by the plain and the keyed limiter.
 */
export function runIfAdmitted<T>(
  wait: number,
  fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
  signal: AbortSignal | undefined,
  rejected: Emitter<RateLimitRejection>,
  resource: string,
  key: string | undefined,
): Promise<T> {
  if (wait > 0) {
    if (rejected.hasListeners) rejected.fire({ resource, key, retryAfterMs: wait });
    return Promise.reject(new RateLimitedError(resource, wait));
  }
  try {
    return Promise.resolve(fn(contextFor(signal)));
  } catch (error) {
    return Promise.reject(error);
  }
}
