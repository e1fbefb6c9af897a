import { describe, expect, it } from 'vitest';
import { BREAKER_DEFAULTS, breakerRuleSchema, resolveBreakerSettings } from './breaker-rule.ts';

describe('breakerRuleSchema', () => {
  it('accepts the DESIGN.md example and an empty rule', () => {
    const example = {
      errorPercent: 50,
      volume: 20,
      windowMs: 10000,
      openMs: 5000,
      halfOpenProbes: 3,
      slowCallMs: 1000,
      slowCallPercent: 100,
    };
    expect(breakerRuleSchema.parse(example)).toEqual(example);
    expect(breakerRuleSchema.parse({})).toEqual({});
  });

  it('names the field and the allowed range in errors', () => {
    const r = breakerRuleSchema.safeParse({ errorPercent: 0 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({
      path: ['errorPercent'],
      message: 'errorPercent: must be above 0 and at most 100',
    });
    expect(breakerRuleSchema.safeParse({ windowMs: 10.5 }).error?.issues[0]?.message).toBe(
      'windowMs: expected a whole number of milliseconds',
    );
    expect(breakerRuleSchema.safeParse({ openMS: 5 }).success).toBe(false);
  });
});

describe('resolveBreakerSettings', () => {
  it('fills the documented defaults; the slow-call rule stays off', () => {
    expect(resolveBreakerSettings({})).toEqual({ ...BREAKER_DEFAULTS, slowCallMs: undefined });
  });

  it('ignores non-rule options and throws ConfigError with the field path', () => {
    expect(resolveBreakerSettings({ volume: 5, resource: 'x' } as object).volume).toBe(5);
    expect(() => resolveBreakerSettings({ slowCallPercent: 101 })).toThrow(
      expect.objectContaining({ code: 'MESHLESS_INVALID_OPTION', path: 'slowCallPercent' }),
    );
  });
});
