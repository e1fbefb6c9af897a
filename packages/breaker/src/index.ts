export { BreakerRegistry, type BreakerRegistryOptions, type BreakerStatus } from './breaker-registry.ts';
export {
  BREAKER_DEFAULTS,
  type BreakerRule,
  type BreakerSettings,
  breakerRuleSchema,
  resolveBreakerSettings,
} from './breaker-rule.ts';
export {
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitState,
  type CircuitStateChange,
  defaultIsFailure,
} from './circuit-breaker-policy.ts';
export { BucketRotation, type BucketRotationOptions, type WindowCounts } from './opossum-adapter.ts';
