import { describe, expect, it } from 'vitest';
import { cookieValue, hashKey, stickyPoint } from './sticky-key.ts';

describe('sticky keys', () => {
  it('hash keys stably and spread similar keys over [0, 1)', () => {
    expect(hashKey('user-1')).toBe(hashKey('user-1'));
    expect(hashKey('user-1')).not.toBe(hashKey('user-2'));
    // 10 equal buckets over 10,000 sequential ids: chi-square with 9 degrees of freedom,
    // 27.88 is the 99.9% critical value.
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const p = stickyPoint(`user-${i}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
      buckets[Math.floor(p * 10)]!++;
    }
    const chi2 = buckets.reduce((sum, n) => sum + (n - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(27.88);
  });

  it('read a cookie from a Cookie header', () => {
    const header = 'theme=dark; sid=abc123;  uid="u-42" ;x=';
    expect(cookieValue(header, 'sid')).toBe('abc123');
    expect(cookieValue(header, 'uid')).toBe('u-42');
    expect(cookieValue(header, 'theme')).toBe('dark');
    expect(cookieValue(header, 'x')).toBe('');
    expect(cookieValue(header, 'id')).toBeUndefined();
    expect(cookieValue(header, 'the')).toBeUndefined();
    expect(cookieValue(undefined, 'sid')).toBeUndefined();
  });
});
