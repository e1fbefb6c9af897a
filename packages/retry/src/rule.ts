// `@meshless/retry/rule`: the `retry` and `hedge` rules' schemas and defaults without the policies,
// so a tool that only validates rules (meshless/contract, the CLI) never loads p-retry.
export {
  type BackoffRule,
  backoffRuleSchema,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_HEDGE_MAX_ATTEMPTS,
  type HedgeRule,
  hedgeRuleSchema,
  type RetryRule,
  retryBudgetRuleSchema,
  retryRuleSchema,
} from './rule-schema.ts';
