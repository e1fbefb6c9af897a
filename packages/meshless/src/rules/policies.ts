import { breakerRuleSchema } from '@meshless/breaker';
import { defineSection, ruleRecord } from '@meshless/core';
import { bulkheadRuleSchema, rateLimitRuleSchema, timeoutMsSchema } from '@meshless/limiter';
import { hedgeRuleSchema, retryRuleSchema } from '@meshless/retry';
import { z } from 'zod';

// The operators' interface for resilience policies (DESIGN.md section 4), assembled from the
// sub-schemas each policy package owns. Every field is optional; durations are milliseconds
// (`Ms` suffix), shares are percent.

const policyFields = {
  /** Time for each attempt (the innermost policy, per DESIGN.md); retries get their own. */
  timeoutMs: timeoutMsSchema.optional(),
  retry: retryRuleSchema.optional(),
  hedge: hedgeRuleSchema.optional(),
  breaker: breakerRuleSchema.optional(),
  bulkhead: bulkheadRuleSchema.optional(),
  rateLimit: rateLimitRuleSchema.optional(),
};

export const methodPoliciesSchema = z.strictObject(policyFields);

export const policiesRuleSchema = z.strictObject({
  ...policyFields,
  /** Per-method overrides (the decorator's method or the client's operation name); no prototype. */
  methods: ruleRecord(z.string().min(1), methodPoliciesSchema).optional(),
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
