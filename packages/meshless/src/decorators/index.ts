export { type GovernedOptions, governed } from './governed.ts';
export { type GovernedMesh, governedMesh, setGovernedMesh } from './governed-mesh.ts';
export { localGovernor, setLocalGovernor } from './local-governor.ts';
export type { GovernedMethodDecorator } from './method-decorator.ts';
export {
  bulkhead,
  circuitBreaker,
  fallback,
  idempotent,
  rateLimit,
  retry,
  timeout,
} from './standalone.ts';
