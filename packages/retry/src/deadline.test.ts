import { ConfigError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { currentDeadline, remainingMs, runWithDeadline, runWithTimeout } from './deadline.ts';

describe('deadline context', () => {
  it('has no deadline outside runWithDeadline: Infinity remains', () => {
    expect(currentDeadline()).toBeUndefined();
    expect(remainingMs(new ManualClock())).toBe(Number.POSITIVE_INFINITY);
  });

  it('carries the deadline across awaits and counts down with the clock, never below 0', async () => {
    const clock = new ManualClock(1000);
    await runWithDeadline(1500, async () => {
      await Promise.resolve();
      expect(currentDeadline()).toBe(1500);
      expect(remainingMs(clock)).toBe(500);
      clock.advance(200);
      await new Promise((r) => setImmediate(r));
      expect(remainingMs(clock)).toBe(300);
      clock.advance(1000);
      expect(remainingMs(clock)).toBe(0);
    });
    expect(currentDeadline()).toBeUndefined();
  });

  it('lets a nested call shorten the deadline but never extend it', () => {
    runWithDeadline(100, () => {
      runWithDeadline(50, () => expect(currentDeadline()).toBe(50));
      runWithDeadline(500, () => expect(currentDeadline()).toBe(100));
    });
  });

  it('runWithTimeout starts the deadline from now', () => {
    const clock = new ManualClock(40);
    runWithTimeout(60, () => expect(currentDeadline()).toBe(100), clock);
  });

  it('rejects NaN with ConfigError', () => {
    expect(() => runWithDeadline(Number.NaN, () => 0)).toThrow(ConfigError);
  });
});
