import { ConfigError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.ts';

function drain(budget: RetryBudget): number {
  let n = 0;
  while (budget.tryWithdraw()) n++;
  return n;
}

describe('RetryBudget', () => {
  it('allows percent of the requests in the window as retries', () => {
    const budget = new RetryBudget({ percent: 20, minPerSecond: 0, clock: new ManualClock() });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(drain(budget)).toBe(20);
  });

  it('adds minPerSecond x window seconds on top, so a quiet service can still retry', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 1, windowMs: 10_000, clock });
    expect(budget.available).toBe(10);
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(drain(budget)).toBe(30);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('counts exact shares despite floating point (29% of 100 is 29)', () => {
    const budget = new RetryBudget({ percent: 29, minPerSecond: 0, clock: new ManualClock() });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.available).toBe(29);
  });

  it('slides: requests and retries older than the window stop counting', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 50, minPerSecond: 0, windowMs: 10_000, buckets: 10, clock });
    for (let i = 0; i < 10; i++) budget.deposit(); // t = 0
    clock.advance(5_000);
    for (let i = 0; i < 10; i++) budget.deposit(); // t = 5 s
    expect(drain(budget)).toBe(10);
    clock.advance(5_000); // t = 10 s: the first 10 requests leave the window, the 10 retries stay
    expect(budget.available).toBe(0);
    for (let i = 0; i < 20; i++) budget.deposit();
    expect(budget.available).toBe(5); // (10 + 20) x 50% - 10 spent
    clock.advance(5_000); // t = 15 s: the t = 5 s requests and the retries leave
    expect(budget.available).toBe(10);
    clock.advance(60_000); // long idle: everything expired at once
    expect(budget.available).toBe(0);
  });

  it('peeks without taking', () => {
    const budget = new RetryBudget({ percent: 100, minPerSecond: 0, clock: new ManualClock() });
    expect(budget.canWithdraw()).toBe(false);
    budget.deposit();
    expect(budget.canWithdraw()).toBe(true);
    expect(budget.canWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.canWithdraw()).toBe(false);
  });

  it('keeps its counts when reconfigured', () => {
    const budget = new RetryBudget({ percent: 10, minPerSecond: 0, clock: new ManualClock() });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.available).toBe(10);
    budget.reconfigure({ percent: 30, minPerSecond: 0 });
    expect(budget.available).toBe(30);
  });

  it('defaults to 20% plus 10 per second (Finagle)', () => {
    const budget = new RetryBudget({ clock: new ManualClock() });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.available).toBe(120);
  });

  it('rejects bad settings with ConfigError', () => {
    expect(() => new RetryBudget({ percent: -1 })).toThrow(ConfigError);
    expect(() => new RetryBudget({ minPerSecond: Number.NaN })).toThrow(ConfigError);
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(ConfigError);
    expect(() => new RetryBudget({ buckets: 2.5 })).toThrow(ConfigError);
  });
});
