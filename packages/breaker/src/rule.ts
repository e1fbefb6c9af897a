// `@meshless/breaker/rule`: the `breaker` rule's schema and defaults without the policy, so a tool
// that only validates rules (meshless/contract, the CLI) never loads opossum.
export {
  BREAKER_DEFAULTS,
  type BreakerRule,
  type BreakerSettings,
  breakerRuleSchema,
  resolveBreakerSettings,
} from './breaker-rule.ts';
