import { describe, expect, it } from 'vitest';
import { MAX_REGEX_INPUT_LENGTH } from './linear-regex.ts';
import { compileStringMatch, matchString, valueMatchSchema } from './string-match.ts';

describe('regex conditions', () => {
  it('match the whole value', () => {
    const m = compileStringMatch(valueMatchSchema.parse({ regex: 'beta-(eu|us)' }));
    expect(matchString(m, 'beta-eu')).toBe(true);
    expect(matchString(m, 'beta-eu-1')).toBe(false);
    expect(matchString(m, 'x-beta-us')).toBe(false);
    expect(matchString(m, undefined)).toBe(false);
  });

  it('take milliseconds on a hostile header, where a backtracking engine blocks for seconds', () => {
    // Adjacent unbounded quantifiers over one set: V8 needs ~0.25 s for 200 characters, seconds for 500.
    for (const regex of ['\\w*\\w*\\w*\\w*!', '.*.*.*.*=', 'a+a+a+a+b', '(?:a|b)*(?:a|b)*c']) {
      const m = compileStringMatch(valueMatchSchema.parse({ regex }));
      for (const n of [200, 500, MAX_REGEX_INPUT_LENGTH]) {
        const start = performance.now();
        expect(matchString(m, 'a'.repeat(n))).toBe(false);
        expect(performance.now() - start, `${regex} on ${n} characters`).toBeLessThan(50);
      }
    }
  });

  it('do not match a value over MAX_REGEX_INPUT_LENGTH, even one the regex describes', () => {
    const m = compileStringMatch(valueMatchSchema.parse({ regex: 'a*' }));
    expect(matchString(m, 'a'.repeat(MAX_REGEX_INPUT_LENGTH))).toBe(true);
    expect(matchString(m, 'a'.repeat(MAX_REGEX_INPUT_LENGTH + 1))).toBe(false);
  });
});
