import { parseOrThrow } from '@meshless/core';
import { z } from 'zod';
import { RETRY_ON_PATTERN } from './classifier.ts';

export const DEFAULT_ATTEMPTS = 1;
export const DEFAULT_BACKOFF_BASE_MS = 25;
export const DEFAULT_BACKOFF_MAX_MS = 1000;
export const DEFAULT_HEDGE_MAX_ATTEMPTS = 2;

const ms = (field: string) =>
  z
    .number({ error: `${field}: expected milliseconds (a number)` })
    .min(0, { error: `${field}: must be 0 or more` });

/** `retry.budget`: Finagle-style retry budget, shared by the retries and hedges of a service. */
export const retryBudgetRuleSchema = z.strictObject({
  /** Retries allowed as a share of the requests over the last 10 s, in percent (0..1000). Default 20. */
  percent: z
    .number({ error: 'percent: expected a number' })
    .min(0, { error: 'percent: must be from 0 to 1000' })
    .max(1000, { error: 'percent: must be from 0 to 1000' })
    .optional()
    .describe(
      'retries and hedges allowed as a share of the calls over the last 10 s, percent (0-1000); default 20',
    ),
  /** Retries allowed per second on top of `percent`, so low traffic can still retry. Default 10. */
  minPerSecond: z
    .number({ error: 'minPerSecond: expected a number' })
    .min(0, { error: 'minPerSecond: must be 0 or more' })
    .optional()
    .describe('retries allowed per second on top of percent, so a quiet service can still retry; default 10'),
});

/** `retry.backoff`: exponential backoff with full jitter, uniform in [0, min(maxMs, baseMs x 2^n)). */
export const backoffRuleSchema = z
  .strictObject({
    /** Ceiling of the first retry's delay, ms. Default 25. */
    baseMs: ms('baseMs')
      .optional()
      .describe("ceiling of the first retry's delay, ms; the ceiling doubles with each retry; default 25"),
    /** Largest delay between two attempts, ms; also caps a honoured Retry-After outside a deadline. Default 1000. */
    maxMs: ms('maxMs')
      .optional()
      .describe(
        'largest delay between two attempts, ms (at least baseMs); also caps a Retry-After honoured outside a deadline; default 1000',
      ),
  })
  .superRefine((b, ctx) => {
    const baseMs = b.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    const maxMs = b.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    if (maxMs < baseMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxMs'],
        message: `maxMs: ${maxMs}${b.maxMs === undefined ? ' (default)' : ''} is below baseMs ${baseMs}`,
      });
    }
  });

/**
 * `retry` in a `policies` document (DESIGN.md section 4). A validated object can be passed
 * straight to `new RetryPolicy(...)`.
 */
export const retryRuleSchema = z.strictObject({
  /** Attempts including the first, 1..10; 1 means no retry. Default 1 (retry only where configured). */
  attempts: z
    .int({ error: 'attempts: expected a whole number' })
    .min(1, { error: 'attempts: must be from 1 to 10 (1 means no retry)' })
    .max(10, { error: 'attempts: must be from 1 to 10 (1 means no retry)' })
    .optional()
    .describe('attempts in all, the first included (1-10); 1 means no retry; default 1'),
  /** Delay between attempts. Default { baseMs: 25, maxMs: 1000 }. */
  backoff: backoffRuleSchema
    .optional()
    .describe(
      'delay before each retry: random (full jitter) below min(maxMs, baseMs x 2^n); default { baseMs: 25, maxMs: 1000 }',
    ),
  /**
   * What is retried: 'connect-error', 'reset', 'timeout', 'circuit-open', '5xx', or a status
   * such as '503' ('429' only with Retry-After). Default ['connect-error', 'reset', '502', '503', '504'].
   */
  on: z
    .array(
      z.string().regex(RETRY_ON_PATTERN, {
        error: (issue) =>
          `on: ${JSON.stringify(issue.input)} is not one of connect-error, reset, timeout, circuit-open, 5xx or a 4xx/5xx status`,
      }),
    )
    .optional()
    .describe(
      "what is retried: 'connect-error', 'reset', 'timeout', 'circuit-open', '5xx', or a status such as '503' ('429' only with Retry-After); default ['connect-error', 'reset', '502', '503', '504']",
    ),
  /** Time limit of each attempt, ms; an expired attempt is aborted and retried. Default: none. */
  perTryTimeoutMs: z
    .number({ error: 'perTryTimeoutMs: expected milliseconds (a number)' })
    .positive({ error: 'perTryTimeoutMs: must be above 0' })
    .optional()
    .describe('time limit of each attempt, ms; an expired attempt is aborted and retried; default none'),
  /** Retry budget. Default: none (only `attempts` bounds retries); `{}` gives 20% + 10/s. */
  budget: retryBudgetRuleSchema
    .optional()
    .describe(
      'retry budget shared by the retries and hedges of the service (a token bucket: percent of the calls plus minPerSecond); default none, only attempts bounds retries; {} gives 20 % + 10/s',
    ),
});

/** `hedge` in a `policies` document: extra attempts sent while the first is still running. */
export const hedgeRuleSchema = z.strictObject({
  /**
   * Wait before each further attempt, ms, or 'p95' for the observed p95 latency of recent
   * successful calls (no hedging until 20 calls were seen). Default 'p95'.
   */
  delayMs: z
    .union([ms('delayMs'), z.literal('p95')], { error: "delayMs: expected milliseconds or 'p95'" })
    .optional()
    .describe(
      "wait before each further attempt, ms, or 'p95': the observed 95th percentile latency of recent successful calls (no hedging until 20 calls were seen); default 'p95'",
    ),
  /** Attempts including the first, 1..5; 1 means no hedging. Default 2 (a hedge block asks for one). */
  maxAttempts: z
    .int({ error: 'maxAttempts: expected a whole number' })
    .min(1, { error: 'maxAttempts: must be from 1 to 5' })
    .max(5, { error: 'maxAttempts: must be from 1 to 5' })
    .optional()
    .describe('attempts in all, the first included (1-5); 1 means no hedging; default 2'),
});

export type RetryRule = z.infer<typeof retryRuleSchema>;
export type HedgeRule = z.infer<typeof hedgeRuleSchema>;
export type BackoffRule = z.infer<typeof backoffRuleSchema>;

/**
 * Validates rule fields passed in code (undefined fields count as absent); throws ConfigError
 * naming the field.
 */
export function validateRule<T>(schema: z.ZodType<T>, value: Record<string, unknown>, prefix: string): T {
  const defined: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) defined[k] = v;
  return parseOrThrow(schema, defined, { pathPrefix: [prefix], dottedPath: true });
}
