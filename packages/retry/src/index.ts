export {
  type Classify,
  DEFAULT_RETRY_ON,
  failureReason,
  type HttpClassifierOptions,
  httpClassifier,
  NO_RETRY,
  parseRetryAfter,
  RETRY,
  type RetryOn,
  type RetryVerdict,
  retryAfterOf,
} from './classifier.ts';
export { currentDeadline, remainingMs, runWithDeadline, runWithTimeout } from './deadline.ts';
export {
  DEADLINE_HEADER,
  deadlineHeaderValue,
  formatDeadlineHeader,
  type ParsedDeadlineHeader,
  parseDeadlineHeader,
} from './deadline-header.ts';
export { DeadlinePolicy, type DeadlinePolicyOptions } from './deadline-policy.ts';
export { InvalidDeadlineHeaderError } from './errors.ts';
export { HedgePolicy, type HedgePolicyOptions, type HedgePolicyRule } from './hedge-policy.ts';
export type { HedgeBudgetExhaustedEvent, HedgeEvent, HedgeSettings } from './hedged-call.ts';
export { isIdempotentMethod } from './idempotent.ts';
export { LatencyTracker, type LatencyTrackerOptions } from './latency-tracker.ts';
export {
  DEFAULT_BUDGET_MIN_PER_SECOND,
  DEFAULT_BUDGET_PERCENT,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetRule,
} from './retry-budget.ts';
export { RetryPolicy, type RetryPolicyOptions, type RetryPolicyRule } from './retry-policy.ts';
export type {
  BudgetExhaustedEvent,
  GiveUpEvent,
  GiveUpReason,
  RetryEvent,
  RetrySettings,
} from './retry-run.ts';
export * from './rule.ts';
