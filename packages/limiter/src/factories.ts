import type { Clock } from '@meshless/core';
import { AdaptiveConcurrencyPolicy } from './adaptive-concurrency-policy.ts';
import { BulkheadPolicy } from './bulkhead-policy.ts';
import type { EventLoopDelaySampler } from './event-loop-delay.ts';
import { KeyedRateLimiter } from './keyed-rate-limiter.ts';
import { CONCURRENCY_KEYS, type ConcurrencyRule, concurrencyRuleSchema, parseRule } from './limiter-rules.ts';
import { type RateLimitOptions, RateLimitPolicy } from './rate-limit-policy.ts';

/** The limiter an inbound `rateLimit` rule asks for: one bucket, or one per caller. */
export function createRateLimiter(options: RateLimitOptions & { perCaller: true }): KeyedRateLimiter;
export function createRateLimiter(options: RateLimitOptions & { perCaller?: false }): RateLimitPolicy;
export function createRateLimiter(options: RateLimitOptions): RateLimitPolicy | KeyedRateLimiter;
export function createRateLimiter(options: RateLimitOptions): RateLimitPolicy | KeyedRateLimiter {
  return options.perCaller ? new KeyedRateLimiter(options) : new RateLimitPolicy(options);
}

export interface ConcurrencyLimiterOptions {
  resource?: string;
  clock?: Clock;
  eventLoopDelay?: EventLoopDelaySampler;
}

/**
 * The limiter an inbound `concurrency` rule asks for: `{ max }` is a bulkhead without a queue
 * (rejects with BulkheadFullError), `{ adaptive: true, ... }` an AdaptiveConcurrencyPolicy
 * (rejects with ConcurrencyLimitError).
 */
export function createConcurrencyLimiter(
  rule: ConcurrencyRule,
  options: ConcurrencyLimiterOptions = {},
): BulkheadPolicy | AdaptiveConcurrencyPolicy {
  const parsed = parseRule('concurrency', concurrencyRuleSchema, CONCURRENCY_KEYS, rule);
  if (parsed.adaptive === true) {
    const { max: _max, adaptive: _adaptive, ...tuning } = parsed;
    return new AdaptiveConcurrencyPolicy({ ...tuning, ...options });
  }
  return new BulkheadPolicy({ maxConcurrent: parsed.max ?? 100, maxQueue: 0, resource: options.resource });
}
