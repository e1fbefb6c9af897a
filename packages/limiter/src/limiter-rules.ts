import { parseOrThrow } from '@meshless/core';
import { z } from 'zod';

// Sub-schemas of the `policies` and `inbound` documents (DESIGN.md section 4). No `.default()`:
// a missing field must stay missing so fleet defaults can be laid under a service's rule; the
// policies fill the defaults named in each field's comment.

/** setTimeout's ceiling; a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

const count = (field: string, min: number) =>
  z
    .int({ error: `${field}: expected a whole number` })
    .min(min, { error: `${field}: must be at least ${min}` })
    .max(1_000_000, { error: `${field}: must be at most 1000000` });

const positiveMs = (field: string) =>
  z
    .int({ error: `${field}: expected a whole number of milliseconds` })
    .min(1, { error: `${field}: must be at least 1 ms` })
    .max(MAX_TIMER_MS, { error: `${field}: must be at most ${MAX_TIMER_MS} ms` });

/** `timeoutMs`: time limit of a call, ms. Default: no timeout. */
export const timeoutMsSchema = positiveMs('timeoutMs');

/** `bulkhead`: calls running at once, and callers waiting in FIFO order beyond that. */
export const bulkheadRuleSchema = z.strictObject({
  /** Calls allowed to run at the same time. Default 100. */
  maxConcurrent: count('maxConcurrent', 1)
    .optional()
    .describe('calls allowed to run at the same time; default 100'),
  /** Callers allowed to wait for a slot; more are rejected with BulkheadFullError. Default 50. */
  maxQueue: count('maxQueue', 0)
    .optional()
    .describe(
      'callers allowed to wait, first in first out, while maxConcurrent calls run; more are rejected at once with MESHLESS_BULKHEAD_FULL; 0: no waiting; default 50',
    ),
});

/** `rateLimit`: a token bucket. */
export const rateLimitRuleSchema = z.strictObject({
  /** Sustained calls per second (refill rate of the bucket). Default 100. */
  perSecond: z
    .number({ error: 'perSecond: expected a number of calls per second' })
    .positive({ error: 'perSecond: must be above 0' })
    .max(1e9, { error: 'perSecond: must be at most 1e9' })
    .optional()
    .describe("sustained calls per second (the token bucket's refill rate), above 0; default 100"),
  /** Calls allowed in a burst (bucket size). Default: perSecond, rounded up. */
  burst: count('burst', 1)
    .optional()
    .describe("calls allowed at once after a quiet spell (the bucket's size); default perSecond, rounded up"),
  /** Inbound only: one bucket per calling service. Default false. */
  perCaller: z
    .boolean({ error: 'perCaller: expected true or false' })
    .optional()
    .describe(
      'inbound documents only: one bucket per calling service (its x-meshless-caller header; requests without one share a bucket), each with perSecond and burst; no effect in policies; default false',
    ),
  /** With perCaller: callers tracked at most; the least recently seen is forgotten. Default 10000. */
  maxCallers: count('maxCallers', 1)
    .optional()
    .describe(
      'with perCaller: callers tracked at most; beyond that the least recently seen is forgotten; default 10000',
    ),
});

const adaptiveOnly = [
  'initialLimit',
  'minLimit',
  'maxLimit',
  'smoothingPercent',
  'rttTolerance',
  'windowMs',
  'maxEventLoopDelayMs',
] as const;

export const ADAPTIVE_DEFAULTS = Object.freeze({
  initialLimit: 20,
  minLimit: 5,
  maxLimit: 200,
  smoothingPercent: 20,
  rttTolerance: 1.5,
  windowMs: 1000,
  maxEventLoopDelayMs: 50,
});

/**
 * Inbound `concurrency`: `{ max }` for a fixed limit, or `{ adaptive: true, ... }` for a
 * gradient limit (Netflix Gradient2) that also falls when the event loop lags.
 */
export const concurrencyRuleSchema = z
  .strictObject({
    /** Fixed limit: handlers running at once; more are rejected. Default 100. Not with adaptive. */
    max: count('max', 1)
      .optional()
      .describe(
        'fixed limit: requests handled at once; more are answered 503; default 100; not with adaptive',
      ),
    /** true: the limit follows latency and event-loop delay. Default false. */
    adaptive: z
      .boolean({ error: 'adaptive: expected true or false' })
      .optional()
      .describe(
        'true: the limit follows latency and event-loop delay (Netflix Gradient2) between minLimit and maxLimit; default false',
      ),
    /** Adaptive: the limit to start from. Default 20. */
    initialLimit: count('initialLimit', 1)
      .optional()
      .describe('adaptive only: the limit to start from, between minLimit and maxLimit; default 20'),
    /** Adaptive: the limit never falls below this. Default 5. */
    minLimit: count('minLimit', 1)
      .optional()
      .describe('adaptive only: the limit never falls below this; default 5'),
    /** Adaptive: the limit never rises above this. Default 200. */
    maxLimit: count('maxLimit', 1)
      .optional()
      .describe('adaptive only: the limit never rises above this; default 200'),
    /** Adaptive: weight of each new estimate, percent (higher reacts faster). Default 20. */
    smoothingPercent: z
      .number({ error: 'smoothingPercent: expected a share in percent' })
      .gt(0, { error: 'smoothingPercent: must be above 0 and at most 100' })
      .max(100, { error: 'smoothingPercent: must be above 0 and at most 100' })
      .optional()
      .describe('adaptive only: weight of each new estimate, percent (higher reacts faster); default 20'),
    /** Adaptive: latency may reach this multiple of its long-term average before the limit falls. Default 1.5. */
    rttTolerance: z
      .number({ error: 'rttTolerance: expected a factor such as 1.5' })
      .min(1, { error: 'rttTolerance: must be from 1 to 10' })
      .max(10, { error: 'rttTolerance: must be from 1 to 10' })
      .optional()
      .describe(
        'adaptive only: latency may reach this multiple of its long-term average (1-10) before the limit falls; default 1.5',
      ),
    /** Adaptive: the limit is re-estimated once per window (with at least 10 calls in it), ms. Default 1000. */
    windowMs: positiveMs('windowMs')
      .optional()
      .describe(
        'adaptive only: the limit is re-estimated once per window (with at least 10 calls in it), ms; default 1000',
      ),
    /** Adaptive: above this event-loop delay (p99 over the window), ms, the limit falls. Default 50. */
    maxEventLoopDelayMs: positiveMs('maxEventLoopDelayMs')
      .optional()
      .describe(
        'adaptive only: above this event-loop delay (p99 over the window), ms, the limit falls; default 50',
      ),
  })
  .superRefine((rule, ctx) => {
    if (rule.adaptive === true) {
      if (rule.max !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['max'],
          message: 'max: is a fixed limit; with adaptive: true use minLimit/maxLimit',
        });
      }
      const min = rule.minLimit ?? ADAPTIVE_DEFAULTS.minLimit;
      const max = rule.maxLimit ?? ADAPTIVE_DEFAULTS.maxLimit;
      const initial = rule.initialLimit ?? ADAPTIVE_DEFAULTS.initialLimit;
      const tag = (v: number | undefined) => (v === undefined ? ' (default)' : '');
      if (min > max) {
        ctx.addIssue({
          code: 'custom',
          path: [rule.minLimit !== undefined ? 'minLimit' : 'maxLimit'],
          message: `minLimit ${min}${tag(rule.minLimit)} is above maxLimit ${max}${tag(rule.maxLimit)}`,
        });
      } else if (initial < min || initial > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['initialLimit'],
          message: `initialLimit: ${initial}${tag(rule.initialLimit)} is outside minLimit ${min} .. maxLimit ${max}`,
        });
      }
      return;
    }
    for (const field of adaptiveOnly) {
      if (rule[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field}: applies only with adaptive: true`,
        });
      }
    }
  });

export type BulkheadRule = z.input<typeof bulkheadRuleSchema>;
export type RateLimitRule = z.input<typeof rateLimitRuleSchema>;
export type ConcurrencyRule = z.input<typeof concurrencyRuleSchema>;

/**
 * Validates the rule fields of `options` with `schema` (other keys such as `clock` are
 * ignored) and returns them, or throws ConfigError naming the field. Runs on change only.
 */
export function parseRule<S extends z.ZodType<object>>(
  what: string,
  schema: S,
  keys: readonly string[],
  options: object,
): z.output<S> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) picked[key] = value;
  }
  return parseOrThrow(schema, picked, { prefix: `${what} `, withPath: false, dottedPath: true });
}

export const BULKHEAD_KEYS = Object.keys(bulkheadRuleSchema.shape);
export const RATE_LIMIT_KEYS = Object.keys(rateLimitRuleSchema.shape);
export const CONCURRENCY_KEYS = ['max', 'adaptive', ...adaptiveOnly];

/** Checks a `timeoutMs` option; throws ConfigError. */
export function parseTimeoutMs(value: unknown): number {
  return parseOrThrow(timeoutMsSchema, value, { prefix: 'timeout ', withPath: false, path: 'timeoutMs' });
}
