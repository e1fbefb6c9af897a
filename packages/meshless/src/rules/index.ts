import type { RuleSection } from '@meshless/core';
import { inboundSection } from './inbound.ts';
import { defaultsSection, policiesSection, resourceSection } from './policies.ts';

export * from './inbound.ts';
export * from './policies.ts';

/** Every document kind of the KV layout that this version understands. */
export const builtinSections: readonly RuleSection<unknown>[] = [
  policiesSection,
  inboundSection,
  resourceSection,
  defaultsSection,
];
