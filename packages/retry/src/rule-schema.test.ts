import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HedgePolicy } from './hedge-policy.ts';
import { RetryPolicy } from './retry-policy.ts';
import { hedgeRuleSchema, retryRuleSchema } from './rule-schema.ts';

function issues(schema: z.ZodType, value: unknown) {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('rule schemas', () => {
  it('accept the DESIGN.md example, which the policies take as is', () => {
    const retry = retryRuleSchema.parse({
      attempts: 3,
      backoff: { baseMs: 25, maxMs: 1000 },
      on: ['connect-error', '502', '503', '504'],
      budget: { percent: 20, minPerSecond: 10 },
    });
    const hedge = hedgeRuleSchema.parse({ delayMs: 50, maxAttempts: 2 });
    const clock = new ManualClock();
    expect(new RetryPolicy({ ...retry, clock }).current).toMatchObject({
      attempts: 3,
      baseMs: 25,
      maxMs: 1000,
    });
    expect(new HedgePolicy({ ...hedge, clock }).current).toMatchObject({ delayMs: 50, maxAttempts: 2 });
  });

  it('make every field optional, with documented defaults applied by the policies', () => {
    expect(retryRuleSchema.parse({})).toEqual({});
    expect(new RetryPolicy({}).current).toMatchObject({
      attempts: 1,
      baseMs: 25,
      maxMs: 1000,
      budget: undefined,
    });
    expect(new HedgePolicy({}).current).toMatchObject({ delayMs: undefined, maxAttempts: 2 });
    expect(hedgeRuleSchema.parse({ delayMs: 'p95' })).toEqual({ delayMs: 'p95' });
  });

  it('name the field in errors', () => {
    expect(issues(retryRuleSchema, { backoff: { baseMs: 2000 } })).toEqual([
      { path: 'backoff.maxMs', message: 'maxMs: 1000 (default) is below baseMs 2000' },
    ]);
    expect(issues(retryRuleSchema, { attempts: 0 })).toEqual([
      { path: 'attempts', message: 'attempts: must be from 1 to 10 (1 means no retry)' },
    ]);
    expect(issues(retryRuleSchema, { on: ['503', 'flaky'] })[0]).toMatchObject({ path: 'on.1' });
    expect(issues(retryRuleSchema, { budget: { percent: 2000 } })[0]).toMatchObject({
      path: 'budget.percent',
    });
    expect(issues(hedgeRuleSchema, { delayMs: 'p99' })).toEqual([
      { path: 'delayMs', message: "delayMs: expected milliseconds or 'p95'" },
    ]);
    expect(issues(hedgeRuleSchema, { maxAttempts: 6 })[0]).toMatchObject({ path: 'maxAttempts' });
  });

  it('reject unknown fields (strict objects), e.g. a misspelt rule', () => {
    expect(issues(retryRuleSchema, { attempt: 3 })[0]?.message).toMatch(/attempt/);
    expect(issues(retryRuleSchema, { backoff: { base: 1 } })).not.toEqual([]);
  });

  it('export as JSON Schema for editors and the CLI', () => {
    const json = z.toJSONSchema(retryRuleSchema, { io: 'input' }) as { properties: Record<string, unknown> };
    expect(Object.keys(json.properties)).toEqual(['attempts', 'backoff', 'on', 'perTryTimeoutMs', 'budget']);
  });
});
