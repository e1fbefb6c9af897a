import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  bulkheadRuleSchema,
  concurrencyRuleSchema,
  rateLimitRuleSchema,
  timeoutMsSchema,
} from './limiter-rules.ts';

function firstIssue(schema: z.ZodType, value: unknown) {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a validation error');
  const issue = r.error.issues[0]!;
  return { path: issue.path.join('.'), message: issue.message };
}

describe('limiter rule schemas', () => {
  it('accept the DESIGN.md examples', () => {
    expect(timeoutMsSchema.parse(1000)).toBe(1000);
    expect(bulkheadRuleSchema.parse({ maxConcurrent: 100, maxQueue: 50 })).toEqual({
      maxConcurrent: 100,
      maxQueue: 50,
    });
    expect(rateLimitRuleSchema.parse({ perSecond: 200, burst: 400 })).toBeTruthy();
    expect(rateLimitRuleSchema.parse({ perSecond: 500, burst: 500, perCaller: true })).toBeTruthy();
    expect(concurrencyRuleSchema.parse({ max: 200 })).toEqual({ max: 200 });
    expect(concurrencyRuleSchema.parse({ adaptive: true })).toEqual({ adaptive: true });
    expect(bulkheadRuleSchema.parse({})).toEqual({});
  });

  it('name the field in errors', () => {
    expect(firstIssue(timeoutMsSchema, 0).message).toMatch(/timeoutMs: must be at least 1 ms/);
    expect(firstIssue(bulkheadRuleSchema, { maxQueue: -1 })).toEqual({
      path: 'maxQueue',
      message: 'maxQueue: must be at least 0',
    });
    expect(firstIssue(rateLimitRuleSchema, { perSecond: 'ten' }).path).toBe('perSecond');
    expect(firstIssue(bulkheadRuleSchema, { maxConcurent: 1 }).message).toMatch(/maxConcurent/);
  });

  it('keep fixed and adaptive concurrency fields apart', () => {
    expect(firstIssue(concurrencyRuleSchema, { adaptive: true, max: 10 })).toEqual({
      path: 'max',
      message: 'max: is a fixed limit; with adaptive: true use minLimit/maxLimit',
    });
    expect(firstIssue(concurrencyRuleSchema, { max: 10, minLimit: 2 })).toEqual({
      path: 'minLimit',
      message: 'minLimit: applies only with adaptive: true',
    });
  });

  it('check the adaptive bounds against each other, defaults included', () => {
    expect(firstIssue(concurrencyRuleSchema, { adaptive: true, minLimit: 300 })).toEqual({
      path: 'minLimit',
      message: 'minLimit 300 is above maxLimit 200 (default)',
    });
    expect(firstIssue(concurrencyRuleSchema, { adaptive: true, maxLimit: 10 })).toEqual({
      path: 'initialLimit',
      message: 'initialLimit: 20 (default) is outside minLimit 5 .. maxLimit 10',
    });
  });

  it('export as JSON Schema for editors', () => {
    const json = z.toJSONSchema(concurrencyRuleSchema, { io: 'input' }) as { properties: object };
    expect(Object.keys(json.properties)).toContain('maxEventLoopDelayMs');
  });
});
