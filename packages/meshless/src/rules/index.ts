import { balancerSection } from '@meshless/balancer';
import { routesSection } from '@meshless/canary';
import type { RuleSection } from '@meshless/core';
import { inboundSection } from './inbound.ts';
import { defaultsSection, policiesSection, resourceSection } from './policies.ts';

export { balancerRuleSchema, balancerSection } from '@meshless/balancer';
export { routesRuleSchema, routesSection } from '@meshless/canary';
export * from './inbound.ts';
export * from './json-schema.ts';
export * from './policies.ts';

/** Every document kind of the KV layout that this version understands. */
export const builtinSections: readonly RuleSection<unknown>[] = [
  routesSection,
  balancerSection,
  policiesSection,
  inboundSection,
  resourceSection,
  defaultsSection,
] as readonly RuleSection<unknown>[];
