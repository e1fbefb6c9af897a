import { parseOrThrow } from '@meshless/core';
import { z } from 'zod';

const percent = (field: string) =>
  z
    .number({ error: `${field}: expected a share in percent (a number)` })
    .gt(0, { error: `${field}: must be above 0 and at most 100` })
    .max(100, { error: `${field}: must be above 0 and at most 100` });

const positiveMs = (field: string) =>
  z
    .int({ error: `${field}: expected a whole number of milliseconds` })
    .min(1, { error: `${field}: must be at least 1 ms` });

/**
 * `breaker` in a `policies` document (DESIGN.md section 4). A validated object can be passed
 * straight to `new CircuitBreakerPolicy(...)` or `BreakerRegistry.configure(...)`.
 */
export const breakerRuleSchema = z.strictObject({
  /**
   * Open when at least this share of the calls in the window failed, in percent, checked after
   * every outcome (a success included) once the window holds `volume` calls. Default 50.
   */
  errorPercent: percent('errorPercent')
    .optional()
    .describe(
      'open when at least this share of the calls in the window failed, percent (above 0, at most 100), checked after every outcome once the window holds volume calls; default 50',
    ),
  /** Calls in the window before the breaker may open at all. Default 20. */
  volume: z
    .int({ error: 'volume: expected a whole number of calls' })
    .min(1, { error: 'volume: must be at least 1 call' })
    .optional()
    .describe('calls in the window before the breaker may open at all; default 20'),
  /** Length of the rolling window the shares are computed over, ms. Default 10000. */
  windowMs: positiveMs('windowMs')
    .optional()
    .describe('length of the rolling window the shares are computed over, ms; default 10000'),
  /** Time the breaker stays open before it lets trial calls through, ms. Default 5000. */
  openMs: positiveMs('openMs')
    .optional()
    .describe(
      'time the breaker stays open (calls fail at once with MESHLESS_CIRCUIT_OPEN) before it lets trial calls through, ms; default 5000',
    ),
  /**
   * Trial calls admitted in half-open (the rest are rejected until they end); any failed probe
   * reopens, and when all have succeeded it closes (unless the slow-call rule reopens). Default 3.
   */
  halfOpenProbes: z
    .int({ error: 'halfOpenProbes: expected a whole number of calls' })
    .min(1, { error: 'halfOpenProbes: must be from 1 to 100' })
    .max(100, { error: 'halfOpenProbes: must be from 1 to 100' })
    .optional()
    .describe(
      'trial calls admitted when half-open (1-100); any failed one reopens the breaker, when all have succeeded it closes; default 3',
    ),
  /** Calls slower than this count as slow, ms. Default: off (no slow-call rule). */
  slowCallMs: positiveMs('slowCallMs')
    .optional()
    .describe('calls slower than this count as slow, ms; default none (no slow-call rule)'),
  /** Open when at least this share of the calls in the window was slow, in percent. Default 100. */
  slowCallPercent: percent('slowCallPercent')
    .optional()
    .describe(
      'with slowCallMs: open when at least this share of the calls in the window was slow, percent; default 100',
    ),
});

export type BreakerRule = z.input<typeof breakerRuleSchema>;

export const BREAKER_DEFAULTS = Object.freeze({
  errorPercent: 50,
  volume: 20,
  windowMs: 10_000,
  openMs: 5_000,
  halfOpenProbes: 3,
  slowCallPercent: 100,
});

/** A rule with its defaults filled in and checked; immutable, shared by every breaker it configures. */
export interface BreakerSettings {
  readonly errorPercent: number;
  readonly volume: number;
  readonly windowMs: number;
  readonly openMs: number;
  readonly halfOpenProbes: number;
  /** undefined: the slow-call rule is off and no call is timed. */
  readonly slowCallMs: number | undefined;
  readonly slowCallPercent: number;
}

const RULE_KEYS = Object.keys(breakerRuleSchema.shape) as (keyof BreakerRule)[];

/**
 * Validates the rule fields of `options` (other keys such as `clock` are ignored) and fills the
 * defaults. Throws `ConfigError` naming the field. Runs on change, never per call.
 */
export function resolveBreakerSettings(options: BreakerRule = {}): BreakerSettings {
  const picked: Record<string, unknown> = {};
  for (const key of RULE_KEYS) if (options[key] !== undefined) picked[key] = options[key];
  const rule = parseOrThrow(breakerRuleSchema, picked, {
    prefix: 'breaker ',
    withPath: false,
    dottedPath: true,
  });
  return Object.freeze({
    errorPercent: rule.errorPercent ?? BREAKER_DEFAULTS.errorPercent,
    volume: rule.volume ?? BREAKER_DEFAULTS.volume,
    windowMs: rule.windowMs ?? BREAKER_DEFAULTS.windowMs,
    openMs: rule.openMs ?? BREAKER_DEFAULTS.openMs,
    halfOpenProbes: rule.halfOpenProbes ?? BREAKER_DEFAULTS.halfOpenProbes,
    slowCallMs: rule.slowCallMs,
    slowCallPercent: rule.slowCallPercent ?? BREAKER_DEFAULTS.slowCallPercent,
  });
}
