import { ConfigError, parseOrThrow } from '@meshless/core';
import type { FallbackOn } from '@meshless/limiter';
import type { z } from 'zod';
import { type MethodPolicies, methodPoliciesSchema } from '../rules/policies.ts';

/** The rule fields a method or call can carry, as written (before defaults). */
export type MethodPoliciesInput = z.input<typeof methodPoliciesSchema>;

/**
 * Values given in code (decorator options, `governor.policy(..., codeDefaults)`): the rule
 * fields, which rules override, plus what only code can say.
 */
export interface CodePolicies extends MethodPoliciesInput {
  /**
   * The answer when the call fails: a value, or a function of the failure returning one (called
   * without `this`). Code only; rules cannot set functions.
   */
  fallback?: unknown;
  /**
   * 'all' (default): any failure inside the stack falls back (the work's errors, a timeout, an
   * open circuit, ...); 'meshless': only meshless errors. Never the caller's deadline passing
   * (the call fails with DeadlineExceededError) nor an abort by the caller's own signal.
   */
  fallbackOn?: FallbackOn;
  /**
   * Whether repeating the work is safe, so retries and hedges (from code or rules) apply.
   * Default for a decorated method: true when the code itself asks for `retry` or `hedge`,
   * else false. Remote calls decide per request (see GovernedPolicy.forRequest).
   */
  idempotent?: boolean;
}

/** The code-only part of CodePolicies, split from the rule fields. */
export interface CodeExtras {
  readonly fallback: { readonly value: unknown } | undefined;
  readonly fallbackOn: FallbackOn;
  readonly idempotent: boolean | undefined;
}

export interface ValidatedCodePolicies {
  readonly rules: MethodPolicies;
  readonly extras: CodeExtras;
}

/**
 * Validates code values with the rules' own schema (so code and KV accept the same thing) and
 * splits off the code-only fields. Throws ConfigError naming the field, e.g. path `timeoutMs`
 * for `{ timeoutMs: -1 }`. Runs once, at decoration or creation time.
 */
export function validateCodePolicies(options: CodePolicies | undefined, what: string): ValidatedCodePolicies {
  if (options === undefined) return { rules: {}, extras: NO_EXTRAS };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(`${what}: options must be an object`, { path: '' });
  }
  const { fallback, fallbackOn, idempotent, ...rest } = options;
  if (fallbackOn !== undefined && fallbackOn !== 'all' && fallbackOn !== 'meshless') {
    throw new ConfigError(`${what}: fallbackOn: expected 'all' or 'meshless'`, { path: 'fallbackOn' });
  }
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    throw new ConfigError(`${what}: idempotent: expected true or false`, { path: 'idempotent' });
  }
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) defined[key] = value;
  return {
    rules: parseMethodPolicies(defined, what),
    extras: {
      fallback: 'fallback' in options ? { value: fallback } : undefined,
      fallbackOn: fallbackOn ?? 'all',
      idempotent,
    },
  };
}

const NO_EXTRAS: CodeExtras = Object.freeze({
  fallback: undefined,
  fallbackOn: 'all',
  idempotent: undefined,
});

/**
 * Validates rule fields (code values, or the merge of several documents); throws ConfigError
 * worded as a rule document's problem is: `<what>: retry: unknown field "attempt" (did you mean "attempts"?)`.
 */
export function parseMethodPolicies(value: unknown, what: string): MethodPolicies {
  return parseOrThrow(methodPoliciesSchema, value, { prefix: `${what}: ` });
}
