import { ConfigError } from '@meshless/core';
import type { FallbackOn } from '@meshless/limiter';
import {
  type CodePolicies,
  type MethodPoliciesInput,
  validateCodePolicies,
} from '../governance/code-policies.ts';
import { type GovernedMethodDecorator, methodDecorator } from './method-decorator.ts';

// Decorators that work without a mesh: local policies from code values only. Stacked on one
// method (also with @mesh.governed) they make one stack, in the documented order whatever the
// order they are written in: fallback, rate limit, bulkhead, retry, breaker, timeout.

type Field<K extends keyof MethodPoliciesInput> = NonNullable<MethodPoliciesInput[K]>;

function part(what: string, options: CodePolicies): GovernedMethodDecorator {
  validateCodePolicies(options, what);
  return methodDecorator(what, { options });
}

/**
 * Retries the method on failure. Default `{ attempts: 3 }` (the first try counts). Every thrown
 * error is retried except an abort, an open circuit and meshless errors that say retrying cannot
 * help; with `on`, only what it names. Writing `@retry` declares the method safe to repeat.
 */
export function retry(options: Field<'retry'> = {}): GovernedMethodDecorator {
  return part('@retry', { retry: { attempts: 3, ...options } });
}

/** Opens after too many failures (`errorPercent` of at least `volume` calls in `windowMs`). */
export function circuitBreaker(options: Field<'breaker'> = {}): GovernedMethodDecorator {
  return part('@circuitBreaker', { breaker: options });
}

/** Rejects with TimeoutError after `ms` (each attempt, when retried). */
export function timeout(msOrOptions: number | { timeoutMs: number }): GovernedMethodDecorator {
  const timeoutMs = typeof msOrOptions === 'number' ? msOrOptions : msOrOptions?.timeoutMs;
  return part('@timeout', { timeoutMs });
}

/** At most `maxConcurrent` calls at once (default 100), `maxQueue` more waiting (default 50). */
export function bulkhead(options: Field<'bulkhead'> = {}): GovernedMethodDecorator {
  return part('@bulkhead', { bulkhead: options });
}

/** A token bucket: `perSecond` sustained (default 100), `burst` at once (default perSecond). */
export function rateLimit(
  options: Pick<Field<'rateLimit'>, 'perSecond' | 'burst'> = {},
): GovernedMethodDecorator {
  return part('@rateLimit', { rateLimit: options });
}

/**
 * Answers a failure (of the method or of a policy) with `value`, or with `value(cause)` when it
 * is a function (called without `this`). `on: 'meshless'` limits it to policy errors. The
 * caller's deadline passing is not answered: the call fails with DeadlineExceededError.
 */
export function fallback<F>(
  value: F | ((cause: unknown) => F | PromiseLike<F>),
  options: { on?: FallbackOn } = {},
): GovernedMethodDecorator {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('@fallback: options must be an object', { path: '' });
  }
  return part('@fallback', {
    fallback: value,
    ...(options.on === undefined ? {} : { fallbackOn: options.on }),
  });
}

/** Marks the method safe to repeat, so retries and hedges from rules apply to it. */
export function idempotent(): GovernedMethodDecorator {
  return part('@idempotent', { idempotent: true });
}
