import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, RuleError } from './errors.ts';
import { parseOrThrow, schemaError } from './schema-error.ts';

const schema = z.strictObject({
  burst: z.number({ error: 'burst: expected a number' }).optional(),
  outlier: z.strictObject({ maxEjectionMs: z.number().min(1, { error: 'must be at least 1' }) }).optional(),
  on: z.array(z.string().regex(/^x$/, { error: 'on: not x' })).optional(),
});

function errorOf(value: unknown, options?: Parameters<typeof parseOrThrow>[2]): ConfigError | RuleError {
  try {
    parseOrThrow(schema, value, options);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('parsed');
}

describe('parseOrThrow', () => {
  it('returns the parsed value', () => {
    expect(parseOrThrow(schema, { burst: 3 })).toEqual({ burst: 3 });
  });

  it('names the field path once, even when the message starts with the field name', () => {
    const e = errorOf({ burst: 'many' });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe('burst: expected a number');
    expect(e.path).toBe('burst');
    expect(errorOf({ outlier: { maxEjectionMs: 0 } }).message).toBe(
      'outlier.maxEjectionMs: must be at least 1',
    );
  });

  it('names an unknown field with the nearest known one', () => {
    const e = errorOf({ brust: 1 });
    expect(e.message).toBe('unknown field "brust" (did you mean "burst"?)');
    expect(errorOf({ outlier: { maxEjectionMs: 1, maxEjectionMS: 1 } }).message).toBe(
      'outlier: unknown field "maxEjectionMS" (did you mean "maxEjectionMs"?)',
    );
  });

  it('words a prefix, a path prefix, dotted paths, a fixed path and the count of other problems', () => {
    expect(errorOf({ burst: 'x' }, { prefix: 'limiter ', withPath: false }).message).toBe(
      'limiter burst: expected a number',
    );
    const retry = errorOf({ on: ['y'] }, { pathPrefix: ['retry'], dottedPath: true });
    expect(retry.path).toBe('retry.on.0');
    expect(retry.message).toBe('retry.on.0: on: not x');
    expect(errorOf({ on: ['y'] }).path).toBe('on[0]');
    expect(errorOf({ burst: 'x' }, { path: 'timeoutMs', withPath: false }).path).toBe('timeoutMs');
    expect(errorOf({ burst: 'x', on: ['y'] }, { countMore: true }).message).toBe(
      'burst: expected a number (and 1 more)',
    );
  });

  it('reports a rule document as a RuleError with its KV key, the zod error as cause', () => {
    const e = errorOf({ burst: 'x' }, { rule: true, key: 'meshless/services/a/limits' }) as RuleError;
    expect(e).toBeInstanceOf(RuleError);
    expect(e.key).toBe('meshless/services/a/limits');
    expect(e.cause).toBeInstanceOf(z.ZodError);
  });

  it('schemaError translates an error at hand', () => {
    const result = schema.safeParse({ burst: 'x' });
    expect(result.success).toBe(false);
    expect(schemaError(result.error!, schema).message).toBe('burst: expected a number');
  });
});
