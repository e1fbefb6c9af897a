import {
  type BucketShape,
  bucketShape,
  type Clock,
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  type Policy,
  RateLimitedError,
  systemClock,
  TokenBucket,
} from '@meshless/core';
import { parseRule, RATE_LIMIT_KEYS, type RateLimitRule, rateLimitRuleSchema } from './limiter-rules.ts';

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
  private readonly bucket: TokenBucket;
  private readonly rejected = new Emitter<RateLimitRejection>();

  /** Fires for every call turned away. */
  readonly onDidReject: Event<RateLimitRejection> = this.rejected.event;

  constructor(options: RateLimitOptions = {}) {
    const { shape } = resolveRateLimit(options);
    this.resource = options.resource ?? 'rate-limit';
    this.bucket = new TokenBucket(shape, options.clock ?? systemClock);
  }

  /** Tokens available now (fractional). */
  get available(): number {
    return this.bucket.available;
  }

  /** Takes a token: 0 when granted, else ms until one is there. For callers that do not use execute. */
  tryAcquire(): number {
    return this.bucket.tryTake();
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const wait = this.bucket.tryTake();
    return runIfAdmitted(wait, fn, signal, this.rejected, this.resource, undefined);
  }

  /** New rate and burst live; the tokens earned so far are kept (capped at the new burst). */
  reconfigure(options: RateLimitRule): void {
    const { shape } = resolveRateLimit(options);
    this.bucket.reconfigure(shape);
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
