import { defineSection } from '@meshless/core';
import { concurrencyRuleSchema, rateLimitRuleSchema } from '@meshless/limiter';
import { z } from 'zod';

const percent = z.number().min(0).max(100);

export const inboundRuleSchema = z.strictObject({
  /** Token bucket on incoming requests; `perCaller: true` keeps one bucket per calling service. */
  rateLimit: rateLimitRuleSchema.optional(),
  /** Fixed `{ max }`, or `{ adaptive: true, ... }` for a gradient limit. */
  concurrency: concurrencyRuleSchema.optional(),
  /** Chaos testing on the service's own handlers. */
  fault: z
    .strictObject({
      delay: z.strictObject({ percent, ms: z.number().int().positive() }).optional(),
      abort: z.strictObject({ percent, status: z.number().int().min(400).max(599) }).optional(),
    })
    .optional(),
});

export type InboundRule = z.infer<typeof inboundRuleSchema>;

export const inboundSection = defineSection({
  kind: 'inbound',
  pattern: 'services/*/inbound',
  description: "Limits and fault injection for the service's own handlers.",
  schema: inboundRuleSchema,
});
