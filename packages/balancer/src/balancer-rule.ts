import { defineSection } from '@meshless/core';
import { z } from 'zod';
import { BUILT_IN_ALGORITHMS, type BuiltInAlgorithm, balancerAlgorithm } from './algorithm-registry.ts';
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime } from './maglev.ts';
import { DEFAULT_CONSECUTIVE_CONNECT_ERRORS } from './outlier-ejection.ts';
import { DEFAULT_MAX_RING_SIZE, DEFAULT_MIN_RING_SIZE } from './ring-hash.ts';

/** The algorithm names a rule accepts: those registered in algorithm-registry.ts. */
export const BALANCER_ALGORITHMS: readonly BuiltInAlgorithm[] = BUILT_IN_ALGORITHMS;

export type BalancerAlgorithm = BuiltInAlgorithm;

/** True for the algorithms keyed by `hashOn` (ring-hash, maglev). */
export function isHashAlgorithm(algorithm: string): boolean {
  return balancerAlgorithm(algorithm)?.hashed === true;
}

const percent = z.number().min(0).max(100);
const ms = z.number().int().min(0);
const name = z.string().min(1);

function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p++;
  return p;
}

/** Where ring-hash and Maglev read the key of a request. Exactly one of the three. */
export const hashOnSchema = z.union(
  [
    z.strictObject({
      header: name.describe('request header whose value is the key (name case-insensitive)'),
    }),
    z.strictObject({ cookie: name.describe('cookie whose value is the key (name case-sensitive)') }),
    z.strictObject({ queryParam: name.describe('query parameter whose value is the key') }),
  ],
  { error: 'expected exactly one of { "header": name }, { "cookie": name }, { "queryParam": name }' },
);

export type HashOn = z.infer<typeof hashOnSchema>;

export const ringHashSchema = z.strictObject({
  /** Fewest ring entries in total. Default 1024. */
  minRingSize: z
    .number()
    .int()
    .min(1)
    .max(DEFAULT_MAX_RING_SIZE)
    .optional()
    .describe('fewest ring entries in total; a smaller ring is scaled up as a whole; default 1024'),
  /** Most ring entries in total. Default 8 388 608. */
  maxRingSize: z
    .number()
    .int()
    .min(1)
    .max(DEFAULT_MAX_RING_SIZE)
    .optional()
    .describe('most ring entries in total; a larger ring is scaled down as a whole; default 8388608'),
});

export const maglevSchema = z.strictObject({
  /** Lookup table size: a prime, ideally over 100 x the number of endpoints. Default 65 537. */
  tableSize: z
    .number()
    .int()
    .min(3)
    .max(16_777_259)
    .refine(isPrime, {
      error: (issue) =>
        `${String(issue.input)} is not prime (the next prime is ${nextPrime(Number(issue.input))})`,
    })
    .optional()
    .describe('lookup table size: a prime, ideally over 100 x the number of endpoints; default 65537'),
});

export const localitySchema = z.strictObject({
  /** Prefer endpoints in the caller's zone, then region. Default true (no effect without a local zone). */
  enabled: z
    .boolean()
    .optional()
    .describe(
      "prefer endpoints in the caller's zone, then region; default true (no effect without a local zone)",
    ),
  /** Locality applies while at least this percent of known endpoints are healthy. Default 70. */
  minHealthyPercent: percent
    .optional()
    .describe(
      'locality applies while at least this percent of the known endpoints are healthy, else traffic spills over in proportion; default 70',
    ),
});

export const successRateSchema = z.strictObject({
  /** Calls an endpoint needs in an interval to be judged. Default 100. */
  minRequests: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('calls an endpoint needs in an interval to be judged; default 100'),
  /** Ejected below mean - stdevFactor x stddev of the success rates. Default 1.9. */
  stdevFactor: z
    .number()
    .min(0)
    .optional()
    .describe(
      'an endpoint is ejected when its success rate is below the mean minus stdevFactor x the standard deviation; default 1.9',
    ),
  /** Fewest judged endpoints for the statistics to apply. Default 5. */
  minEndpoints: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('fewest judged endpoints for the statistics to apply; default 5'),
});

export const outlierSchema = z.strictObject({
  /** Failures in a row that eject an endpoint at once; 0 turns this check off. Default 5 (0 without an outlier field). */
  consecutiveErrors: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'failures in a row (5xx, timeouts, no answer) that eject an endpoint at once; 0 disables; default 5 (0 when the outlier field is omitted)',
    ),
  /** Connect errors in a row (no HTTP answer) that eject an endpoint at once; 0 disables. Default 3. */
  consecutiveConnectErrors: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'connect errors in a row (refused, unreachable: no HTTP answer) that eject an endpoint at once; 0 disables; default 3',
    ),
  /** How often success rates are judged and ejection counts decay. Default 10 000. */
  intervalMs: ms
    .min(1)
    .optional()
    .describe('how often success rates are judged and ejection counts decay, ms; default 10000'),
  /** First ejection length; the n-th lasts n times as long. Default 30 000. */
  baseEjectionMs: ms
    .optional()
    .describe('length of the first ejection, ms; the n-th lasts n times as long; default 30000'),
  /** Cap on one ejection. Default 300 000. */
  maxEjectionMs: ms.optional().describe('longest ejection, ms (at least baseEjectionMs); default 300000'),
  /** Most endpoints ejected at once, in percent (rounded down, but at least 1 when > 0). Default 10. */
  maxEjectionPercent: percent
    .optional()
    .describe(
      'most endpoints ejected at once, percent (rounded down, but at least 1 when above 0); default 10',
    ),
  /** Success-rate outlier detection; omitted: off, `{}`: on with defaults. */
  successRate: successRateSchema
    .optional()
    .describe(
      'success-rate detection: eject endpoints whose success rate is far below the others; omitted: off; {}: on with the defaults',
    ),
});

/**
 * `meshless/services/<svc>/balancer`: how callers of <svc> choose an endpoint. Every field is
 * optional; a missing document means p2c-peak-ewma with locality, ejecting only on connect errors.
 */
export const balancerRuleSchema = z
  .strictObject({
    /** The picking algorithm. Default `p2c-peak-ewma`. */
    algorithm: z
      .enum(BALANCER_ALGORITHMS as [BuiltInAlgorithm, ...BuiltInAlgorithm[]])
      .optional()
      .describe(
        'how an endpoint is chosen: round-robin, weighted-round-robin (by Consul Weights), random, least-request (of two endpoints, the one with fewer calls in flight), p2c-peak-ewma (of two, the lower latency x calls in flight), ring-hash or maglev (consistent hashing on hashOn); default p2c-peak-ewma',
      ),
    /** Where the hash key comes from; required for ring-hash and maglev. */
    hashOn: hashOnSchema
      .optional()
      .describe(
        'where ring-hash and maglev read the key of a request: exactly one of { header }, { cookie }, { queryParam }; a request without it gets a random endpoint; required for ring-hash and maglev',
      ),
    /** Ring-hash sizing. */
    ringHash: ringHashSchema
      .optional()
      .describe('ring-hash only: bounds on the ring (512 entries per endpoint per unit of weight)'),
    /** Maglev sizing. */
    maglev: maglevSchema.optional().describe('maglev only: size of the lookup table'),
    /** Zone/region preference with Envoy's spill-over. */
    locality: localitySchema
      .optional()
      .describe(
        "zone/region preference: the caller's zone first, then its region, spilling over when too few are healthy",
      ),
    /** Below this percent of healthy (not ejected) endpoints, balance over all. 0 disables. Default 50. */
    panicThresholdPercent: percent
      .optional()
      .describe(
        'below this percent of healthy (not ejected) endpoints, balance over all of them, so a fleet-wide failure never ejects everyone; 0 disables; default 50',
      ),
    /**
     * Outlier detection (ejection). Omitted: only the connect-error check, with the defaults;
     * `{}`: every check with its defaults; `false`: no ejection at all.
     */
    outlier: z
      .union([outlierSchema, z.literal(false)])
      .optional()
      .describe(
        'outlier detection (ejection): omitted: eject after 3 connect errors in a row only; {}: every check with its defaults; false: no ejection',
      ),
    /** New endpoints ramp from 10% to full weight over this long; 0 disables. Default 0. */
    slowStartMs: ms
      .optional()
      .describe('new endpoints ramp from 10 % to full weight over this long, ms; 0 disables; default 0'),
  })
  .superRefine((rule, ctx) => {
    const algorithm = rule.algorithm ?? 'p2c-peak-ewma';
    if (isHashAlgorithm(algorithm) && rule.hashOn === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hashOn'],
        message: `required when algorithm is ${algorithm}, e.g. { "header": "x-user-id" }`,
      });
    }
    const min = rule.ringHash?.minRingSize ?? DEFAULT_MIN_RING_SIZE;
    const max = rule.ringHash?.maxRingSize ?? DEFAULT_MAX_RING_SIZE;
    if (min > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['ringHash', 'minRingSize'],
        message: `${min} is above maxRingSize ${max}`,
      });
    }
    const outlier = rule.outlier || undefined;
    const base = outlier?.baseEjectionMs ?? 30_000;
    const cap = outlier?.maxEjectionMs ?? 300_000;
    if (outlier !== undefined && base > cap) {
      ctx.addIssue({
        code: 'custom',
        path: ['outlier', 'maxEjectionMs'],
        message: `${cap} is below baseEjectionMs ${base}`,
      });
    }
  });

export type BalancerRule = z.infer<typeof balancerRuleSchema>;

export const balancerSection = defineSection<BalancerRule>({
  kind: 'balancer',
  pattern: 'services/*/balancer',
  description:
    'How callers of a service choose an endpoint: algorithm, hash key, locality, outlier ejection, panic threshold, slow start.',
  schema: balancerRuleSchema,
});

/** A balancer rule with every default filled in. */
export interface ResolvedBalancerRule {
  readonly algorithm: BalancerAlgorithm;
  readonly hashOn: HashOn | undefined;
  readonly ringHash: { readonly minRingSize: number; readonly maxRingSize: number };
  readonly maglev: { readonly tableSize: number };
  readonly locality: { readonly enabled: boolean; readonly minHealthyPercent: number };
  readonly panicThresholdPercent: number;
  readonly outlier:
    | {
        readonly consecutiveErrors: number;
        readonly consecutiveConnectErrors: number;
        readonly intervalMs: number;
        readonly baseEjectionMs: number;
        readonly maxEjectionMs: number;
        readonly maxEjectionPercent: number;
        readonly successRate:
          | { readonly minRequests: number; readonly stdevFactor: number; readonly minEndpoints: number }
          | undefined;
      }
    | undefined;
  readonly slowStartMs: number;
}

/**
 * Fills in the defaults of a validated rule (`{}` or undefined: all defaults). Without an
 * `outlier` field, ejection runs on connect errors only: a dead instance is taken out by
 * default, while ejecting on 5xx answers stays the operator's choice.
 */
export function resolveBalancerRule(rule: BalancerRule = {}): ResolvedBalancerRule {
  const o = rule.outlier === undefined ? { consecutiveErrors: 0 } : rule.outlier || undefined;
  const sr = o?.successRate;
  return {
    algorithm: rule.algorithm ?? 'p2c-peak-ewma',
    hashOn: rule.hashOn,
    ringHash: {
      minRingSize: rule.ringHash?.minRingSize ?? DEFAULT_MIN_RING_SIZE,
      maxRingSize: rule.ringHash?.maxRingSize ?? DEFAULT_MAX_RING_SIZE,
    },
    maglev: { tableSize: rule.maglev?.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE },
    locality: {
      enabled: rule.locality?.enabled ?? true,
      minHealthyPercent: rule.locality?.minHealthyPercent ?? 70,
    },
    panicThresholdPercent: rule.panicThresholdPercent ?? 50,
    outlier: o && {
      consecutiveErrors: o.consecutiveErrors ?? 5,
      consecutiveConnectErrors: o.consecutiveConnectErrors ?? DEFAULT_CONSECUTIVE_CONNECT_ERRORS,
      intervalMs: o.intervalMs ?? 10_000,
      baseEjectionMs: o.baseEjectionMs ?? 30_000,
      maxEjectionMs: o.maxEjectionMs ?? 300_000,
      maxEjectionPercent: o.maxEjectionPercent ?? 10,
      successRate: sr && {
        minRequests: sr.minRequests ?? 100,
        stdevFactor: sr.stdevFactor ?? 1.9,
        minEndpoints: sr.minEndpoints ?? 5,
      },
    },
    slowStartMs: rule.slowStartMs ?? 0,
  };
}
