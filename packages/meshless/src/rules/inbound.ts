import { defineSection } from '@meshless/core';
import { z } from 'zod';
import { rateLimitRuleSchema } from './policies.ts';

const percent = z.number().min(0).max(100);

export const inboundRuleSchema = z.strictObject({
  rateLimit: rateLimitRuleSchema.optional(),
  /** Fixed `{ max }`, or `{ adaptive: true }` for a gradient limit. */
  concurrency: z
    .union([
      z.strictObject({ max: z.number().int().min(1) }),
      z.strictObject({
        adaptive: z.literal(true),
        minLimit: z.number().int().min(1).optional(),
        maxLimit: z.number().int().min(1).optional(),
      }),
    ])
    .optional(),
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
