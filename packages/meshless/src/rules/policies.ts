import { defineSection } from '@meshless/core';
import { z } from 'zod';

// The operators' interface for resilience policies (DESIGN.md section 4). Every field is
// optional; durations are milliseconds (`Ms` suffix), shares are percent.

const ms = (what: string) => z.number().int(`${what} must be a whole number of milliseconds`).nonnegative();
const percent = z.number().min(0).max(100);

export const retryRuleSchema = z.strictObject({
  /** Tries in all, counting the first: 1 means no retry. Default 1. */
  attempts: z.number().int().min(1).max(10).optional(),
  /** Full-jitter exponential backoff between tries. Default base 25 ms, max 1000 ms. */
  backoff: z.strictObject({ baseMs: ms('baseMs').optional(), maxMs: ms('maxMs').optional() }).optional(),
  /** What is retried: connect-error, reset, timeout, 5xx, or status codes as strings. Default connect-error, 502, 503, 504. */
  on: z
    .array(
      z
        .string()
        .regex(
          /^(connect-error|reset|timeout|5xx|[1-5]\d\d)$/,
          'expected connect-error, reset, timeout, 5xx or a status code',
        ),
    )
    .optional(),
  /** Timeout of each try. Default: none (the overall timeout applies). */
  perTryTimeoutMs: ms('perTryTimeoutMs').positive().optional(),
  /** Retries allowed as a share of requests over 10 s, plus a floor per second. Default 20 %, 10/s. */
  budget: z
    .strictObject({ percent: percent.optional(), minPerSecond: z.number().nonnegative().optional() })
    .optional(),
});

export const hedgeRuleSchema = z.strictObject({
  /** Wait before sending the next hedge; `p95` uses the observed 95th percentile. */
  delayMs: z.union([ms('delayMs'), z.literal('p95')]).optional(),
  /** Tries in all, counting the first. Default 2. */
  maxAttempts: z.number().int().min(1).max(5).optional(),
});

export const breakerRuleSchema = z.strictObject({
  /** Open when this share of calls in the window failed. Default 50. */
  errorPercent: percent.optional(),
  /** Calls in the window before the breaker may open. Default 20. */
  volume: z.number().int().min(1).optional(),
  /** Rolling window. Default 10000. */
  windowMs: ms('windowMs').positive().optional(),
  /** Time open before trial calls. Default 5000. */
  openMs: ms('openMs').positive().optional(),
  /** Trial calls in half-open; all must succeed to close. Default 3. */
  halfOpenProbes: z.number().int().min(1).max(100).optional(),
  /** Calls slower than this count as slow. Default: off. */
  slowCallMs: ms('slowCallMs').positive().optional(),
  /** Open when this share of calls is slow. Default 100. */
  slowCallPercent: percent.optional(),
});

export const bulkheadRuleSchema = z.strictObject({
  maxConcurrent: z.number().int().min(1).optional(),
  maxQueue: z.number().int().min(0).optional(),
});

export const rateLimitRuleSchema = z.strictObject({
  perSecond: z.number().positive().optional(),
  burst: z.number().int().min(1).optional(),
  /** Inbound only: one bucket per calling service. */
  perCaller: z.boolean().optional(),
});

const policyFields = {
  /** Overall time for a call, retries included. */
  timeoutMs: ms('timeoutMs').positive().optional(),
  retry: retryRuleSchema.optional(),
  hedge: hedgeRuleSchema.optional(),
  breaker: breakerRuleSchema.optional(),
  bulkhead: bulkheadRuleSchema.optional(),
  rateLimit: rateLimitRuleSchema.optional(),
};

export const methodPoliciesSchema = z.strictObject(policyFields);

export const policiesRuleSchema = z.strictObject({
  ...policyFields,
  /** Per-method overrides (the decorator's method or the client's operation name). */
  methods: z.record(z.string().min(1), methodPoliciesSchema).optional(),
});

export type PoliciesRule = z.infer<typeof policiesRuleSchema>;

export const policiesSection = defineSection({
  kind: 'policies',
  pattern: 'services/*/policies',
  description:
    'Resilience policies for every call to the service: timeout, retry, hedge, breaker, bulkhead, rate limit.',
  schema: policiesRuleSchema,
});

export const resourceSection = defineSection({
  kind: 'resource',
  pattern: 'resources/*',
  description: 'Policies for a decorated method that is not a remote call (`@mesh.governed(name)`).',
  schema: policiesRuleSchema,
});

export const defaultsSection = defineSection({
  kind: 'defaults',
  pattern: 'defaults/policies',
  description: 'Fleet-wide defaults under every policies document.',
  schema: policiesRuleSchema,
});
