import { breakerRuleSchema } from '@meshless/breaker/rule';
import { defineSection, ruleRecord } from '@meshless/core';
import { bulkheadRuleSchema, rateLimitRuleSchema, timeoutMsSchema } from '@meshless/limiter';
import { hedgeRuleSchema, retryRuleSchema } from '@meshless/retry/rule';
import { z } from 'zod';

// The operators' interface for resilience policies (DESIGN.md section 4), assembled from the
// sub-schemas each policy package owns. Every field is optional; durations are milliseconds
// (`Ms` suffix), shares are percent.

const policyFields = {
  /** Time for each attempt (the innermost policy, per DESIGN.md); retries get their own. */
  timeoutMs: timeoutMsSchema
    .optional()
    .describe(
      'time limit of each attempt, ms (the innermost policy: a retry gets a fresh one); an attempt over it fails with MESHLESS_TIMEOUT and counts as a breaker failure; default none',
    ),
  retry: retryRuleSchema
    .optional()
    .describe(
      'retries of failed attempts, for idempotent calls only (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or marked idempotent); default none',
    ),
  hedge: hedgeRuleSchema
    .optional()
    .describe(
      'extra attempts sent while the first still runs, for idempotent calls only; the first answer wins; default none',
    ),
  breaker: breakerRuleSchema
    .optional()
    .describe(
      'circuit breaker (per endpoint for remote calls): after too many failures calls fail at once for a while; default none',
    ),
  bulkhead: bulkheadRuleSchema
    .optional()
    .describe('limit on the calls running at once, with a waiting queue; default none'),
  rateLimit: rateLimitRuleSchema
    .optional()
    .describe(
      'token bucket on the calls this instance makes; a call over it fails at once with MESHLESS_RATE_LIMITED; default none',
    ),
};

export const methodPoliciesSchema = z.strictObject(policyFields);

export const policiesRuleSchema = z.strictObject({
  ...policyFields,
  /** Per-method overrides (the decorator's method or the client's operation name); no prototype. */
  methods: ruleRecord(z.string().min(1), methodPoliciesSchema)
    .optional()
    .describe(
      "per-method overrides by name (a client call's operation, a decorated method's name), with the fields above, merged field by field over this document; default none",
    ),
});

export type PoliciesRule = z.infer<typeof policiesRuleSchema>;
export type MethodPolicies = z.infer<typeof methodPoliciesSchema>;

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
