export { BreakerRegistry, type BreakerRegistryOptions, type BreakerStatus } from './breaker-registry.ts';
export {
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitState,
  type CircuitStateChange,
  defaultIsFailure,
} from './circuit-breaker-policy.ts';
export { BucketRotation, type BucketRotationOptions, type WindowCounts } from './opossum-adapter.ts';
export * from './rule.ts';
