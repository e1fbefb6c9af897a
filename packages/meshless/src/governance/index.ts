export type { CodePolicies, MethodPoliciesInput } from './code-policies.ts';
export type { CallInstrument } from './governance-ports.ts';
export { type GovernedChange, GovernedPolicy } from './governed-policy.ts';
export { type GovernedBreakerStatus, Governor, type GovernorOptions } from './governor.ts';
export type { GovernedResource } from './merge-settings.ts';
export type { LayerKind } from './policy-set.ts';
