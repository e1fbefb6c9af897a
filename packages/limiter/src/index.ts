export {
  type AdaptiveConcurrencyOptions,
  AdaptiveConcurrencyPolicy,
  type LimitChange,
} from './adaptive-concurrency-policy.ts';
export {
  BULKHEAD_DEFAULTS,
  type BulkheadOptions,
  BulkheadPolicy,
  type BulkheadRejection,
} from './bulkhead-policy.ts';
export { ConcurrencyLimitError } from './concurrency-limit-error.ts';
export {
  type EventLoopDelayMonitor,
  type EventLoopDelaySampler,
  eventLoopDelayMonitor,
} from './event-loop-delay.ts';
export {
  type ConcurrencyLimiterOptions,
  createConcurrencyLimiter,
  createRateLimiter,
} from './factories.ts';
export {
  type FallbackEvent,
  type FallbackOn,
  type FallbackOptions,
  FallbackPolicy,
} from './fallback-policy.ts';
export { Gradient2Limit, type Gradient2Settings } from './gradient2-limit.ts';
export { KeyedRateLimiter } from './keyed-rate-limiter.ts';
export {
  ADAPTIVE_DEFAULTS,
  type BulkheadRule,
  bulkheadRuleSchema,
  type ConcurrencyRule,
  concurrencyRuleSchema,
  type RateLimitRule,
  rateLimitRuleSchema,
  timeoutMsSchema,
} from './limiter-rules.ts';
export {
  RATE_LIMIT_DEFAULTS,
  type RateLimitOptions,
  RateLimitPolicy,
  type RateLimitRejection,
} from './rate-limit-policy.ts';
export { type TimeoutEvent, type TimeoutOptions, TimeoutPolicy } from './timeout-policy.ts';
