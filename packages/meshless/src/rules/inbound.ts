import { defineSection } from '@meshless/core';
import { concurrencyRuleSchema, rateLimitRuleSchema } from '@meshless/limiter';
import { z } from 'zod';

const percent = z.number().min(0).max(100);

export const inboundRuleSchema = z.strictObject({
  /** Zero trust: which connections the service takes (like Istio's PeerAuthentication). */
  mtls: z
    .enum(['permissive', 'strict'])
    .optional()
    .describe(
      "zero trust on: permissive takes plain and mutual TLS (plain requests counted per caller in meshless_inbound_plaintext_requests_total, for the migration), strict refuses plain requests with 403 MESHLESS_MTLS_REQUIRED; default the code's zeroTrust.inbound, else permissive",
    ),
  /** Token bucket on incoming requests; `perCaller: true` keeps one bucket per calling service. */
  rateLimit: rateLimitRuleSchema
    .optional()
    .describe(
      'token bucket on incoming requests, for all callers together or per caller (perCaller); a request over it is answered 429 with Retry-After; default none',
    ),
  /** Fixed `{ max }`, or `{ adaptive: true, ... }` for a gradient limit. */
  concurrency: concurrencyRuleSchema
    .optional()
    .describe(
      'limit on the requests handled at once, fixed { max } or { adaptive: true }; a request over it is answered 503 with Retry-After; default none',
    ),
  /** Chaos testing on the service's own handlers. */
  fault: z
    .strictObject({
      delay: z
        .strictObject({
          percent: percent.describe('share of requests delayed, percent 0-100'),
          ms: z.number().int().positive().describe('delay before the handler runs, ms'),
        })
        .optional()
        .describe('delay a share of requests before the handler runs; default none'),
      abort: z
        .strictObject({
          percent: percent.describe('share of requests answered with status, percent 0-100'),
          status: z.number().int().min(400).max(599).describe('HTTP status answered (400-599)'),
        })
        .optional()
        .describe(
          'answer a share of requests with an error status instead of running the handler; default none',
        ),
    })
    .optional()
    .describe("fault injection (chaos testing) on the service's own handlers; default none"),
});

export type InboundRule = z.infer<typeof inboundRuleSchema>;

export const inboundSection = defineSection({
  kind: 'inbound',
  pattern: 'services/*/inbound',
  description: "Limits and fault injection for the service's own handlers.",
  schema: inboundRuleSchema,
});
