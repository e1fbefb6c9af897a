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

  it('adds a reserve of minPerSecond on top, so a quiet service can still retry', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 3, windowMs: 10_000, clock });
    expect(budget.available).toBe(3);
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(drain(budget)).toBe(23);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('counts exact shares despite floating point (29% of 100 is 29)', () => {
    const budget = new RetryBudget({ percent: 29, minPerSecond: 0, clock: new ManualClock() });
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.available).toBe(29);
  });

  it('slides: deposits older than the window expire, withdrawals stay withdrawn', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 50, minPerSecond: 0, windowMs: 10_000, buckets: 10, clock });
    for (let i = 0; i < 10; i++) budget.deposit(); // t = 0
    clock.advance(5_000);
    for (let i = 0; i < 10; i++) budget.deposit(); // t = 5 s
    expect(drain(budget)).toBe(10);
    clock.advance(5_000); // t = 10 s: the first 10 requests leave the window (their 5 tokens were spent)
    expect(budget.available).toBe(0);
    for (let i = 0; i < 20; i++) budget.deposit();
    expect(budget.available).toBe(10); // the 10 spent were paid with the t = 0 and t = 5 s deposits
    clock.advance(5_000); // t = 15 s: the (spent) t = 5 s deposits leave
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
    expect(budget.available).toBe(30);
  });

  it('rejects bad settings with ConfigError', () => {
    expect(() => new RetryBudget({ percent: -1 })).toThrow(ConfigError);
    expect(() => new RetryBudget({ minPerSecond: Number.NaN })).toThrow(ConfigError);
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(ConfigError);
    expect(() => new RetryBudget({ buckets: 2.5 })).toThrow(ConfigError);
  });
});

/**
 * An outage at `rate` requests per second for `seconds`: every request fails and asks for up to
 * `wants` retries at once. Returns the retries granted in each 10 ms tick.
 */
function outage(budget: RetryBudget, clock: ManualClock, rate: number, seconds: number, wants = 2): number[] {
  const tickMs = 10;
  const perTick = (rate * tickMs) / 1000;
  const granted: number[] = [];
  let owed = 0;
  for (let t = 0; t < (seconds * 1000) / tickMs; t++) {
    owed += perTick;
    let n = 0;
    for (; owed >= 1; owed--) {
      budget.deposit();
      for (let r = 0; r < wants && budget.tryWithdraw(); r++) n++;
    }
    granted.push(n);
    clock.advance(tickMs);
  }
  return granted;
}

/** The largest sum of `width` consecutive ticks. */
function busiest(ticks: readonly number[], width: number): number {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ticks.length; i++) {
    sum += ticks[i]!;
    if (i >= width) sum -= ticks[i - width]!;
    max = Math.max(max, sum);
  }
  return max;
}

describe('RetryBudget: the reserve as a token bucket', () => {
  it('grants at most percent of the requests plus minPerSecond in any second of an outage that starts idle', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10, clock });
    const ticks = outage(budget, clock, 100, 30);
    const firstSecond = ticks.slice(0, 100).reduce((a, b) => a + b, 0);
    // 100 requests deposit 20 tokens; the reserve adds 10 at most (1 of slack for rounding).
    expect(firstSecond).toBeGreaterThanOrEqual(20);
    expect(firstSecond).toBeLessThanOrEqual(20 + 10 + 1);
    // Not in the first second only: in no 1 s interval of the outage.
    expect(busiest(ticks, 100)).toBeLessThanOrEqual(20 + 10 + 1);
  });

  it('spends what healthy traffic deposited once, with no burst again when the window turns', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10, clock });
    for (let i = 0; i < 1000; i++) {
      budget.deposit(); // 10 s of healthy traffic at 100 req/s: 200 tokens saved
      clock.advance(10);
    }
    const ticks = outage(budget, clock, 100, 30, 3);
    const firstSecond = ticks.slice(0, 100).reduce((a, b) => a + b, 0);
    expect(firstSecond).toBeLessThanOrEqual(200 + 20 + 10 + 1);
    // Then percent + reserve per second, also when the retries of the first second leave the window.
    expect(busiest(ticks.slice(100), 100)).toBeLessThanOrEqual(20 + 10 + 1);
  });

  it('converges to percent of the requests plus minPerSecond over a long outage', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10, clock });
    const seconds = 300;
    const total = outage(budget, clock, 100, seconds).reduce((a, b) => a + b, 0);
    const expected = 0.2 * 100 * seconds + 10 * seconds;
    expect(total / expected).toBeGreaterThan(0.98);
    expect(total / expected).toBeLessThanOrEqual(1.01);
  });

  it('gives a quiet service its whole reserve at once, each token back one second after it was spent', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 5, clock });
    expect(drain(budget)).toBe(5);
    clock.advance(999);
    expect(budget.tryWithdraw()).toBe(false);
    clock.advance(1);
    expect(budget.available).toBe(5);
    expect(budget.tryWithdraw()).toBe(true);
    clock.advance(500);
    expect(drain(budget)).toBe(4);
    clock.advance(500);
    expect(drain(budget)).toBe(1); // the token spent at t = 1 s
  });

  it('spreads a reserve below one per second: 0.5 per second is one retry every 2 s', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 0.5, clock });
    const ticks = outage(budget, clock, 10, 20);
    expect(ticks.reduce((a, b) => a + b, 0)).toBe(10);
    expect(busiest(ticks, 200)).toBe(1);
  });

  it('bounds its memory whatever minPerSecond a document asks for', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 1e12, clock });
    expect(budget.available).toBeGreaterThanOrEqual(1000);
    const ticks = outage(budget, clock, 1000, 1, 1000);
    // 1000 tokens at most, each back at once: 1000 per 10 ms tick.
    expect(ticks.reduce((a, b) => a + b, 0)).toBe(100_000);
  });
});
