import { ConfigError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { validateCodePolicies } from './code-policies.ts';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a throw');
}

describe('validateCodePolicies', () => {
  it('splits the rule fields from fallback and idempotent', () => {
    const fallback = () => null;
    const v = validateCodePolicies({ timeoutMs: 300, fallback, idempotent: true }, 'r');
    expect(v.rules).toEqual({ timeoutMs: 300 });
    expect(v.extras.fallback).toEqual({ value: fallback });
    expect(v.extras.idempotent).toBe(true);
    expect(v.extras.fallbackOn).toBe('all');
  });

  it('keeps a falsy fallback value (null, 0, undefined written out)', () => {
    expect(validateCodePolicies({ fallback: null }, 'r').extras.fallback).toEqual({ value: null });
    expect(validateCodePolicies({ fallback: undefined }, 'r').extras.fallback).toEqual({ value: undefined });
    expect(validateCodePolicies({}, 'r').extras.fallback).toBeUndefined();
  });

  it('names the field once, with its full path, in message and path', () => {
    const e = errorOf(() => validateCodePolicies({ timeoutMs: -1 }, 'catalog.getItem'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.path).toBe('timeoutMs');
    expect(e.message).toBe('catalog.getItem: timeoutMs: must be at least 1 ms');

    const nested = errorOf(() => validateCodePolicies({ retry: { backoff: { baseMs: 9, maxMs: 1 } } }, 'r'));
    expect(nested.path).toBe('retry.backoff.maxMs');
    expect(nested.message).toBe('r: retry.backoff.maxMs: 1 is below baseMs 9');
  });

  it('words an unknown field as rule documents do: at its object, with the nearest known field', () => {
    const e = errorOf(() => validateCodePolicies({ retry: { attempt: 3 } } as never, 'r'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.path).toBe('retry');
    expect(e.message).toBe('r: retry: unknown field "attempt" (did you mean "attempts"?)');

    const top = errorOf(() => validateCodePolicies({ timeoutMS: 5 } as never, 'catalog.getItem'));
    expect(top.path).toBe('');
    expect(top.message).toBe('catalog.getItem: unknown field "timeoutMS" (did you mean "timeoutMs"?)');
  });
});
