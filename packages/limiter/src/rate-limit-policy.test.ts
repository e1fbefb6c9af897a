import { RateLimitedError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './factories.ts';
import { KeyedRateLimiter } from './keyed-rate-limiter.ts';
import { RateLimitPolicy } from './rate-limit-policy.ts';

const ok = async () => 'ok';

describe('RateLimitPolicy', () => {
  it('allows a burst, then rejects with RateLimitedError and the time until the next token', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimitPolicy({ perSecond: 10, burst: 3, clock, resource: 'catalog' });
    for (let i = 0; i < 3; i++) await expect(limiter.execute(ok)).resolves.toBe('ok');
    const error = await limiter.execute(ok).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ code: 'MESHLESS_RATE_LIMITED', resource: 'catalog', retryAfterMs: 100 });
    clock.advance(40);
    expect(limiter.tryAcquire()).toBe(60);
  });

  it('refills perSecond / 1000 tokens per ms, lazily, up to burst', () => {
    const clock = new ManualClock();
    const limiter = new RateLimitPolicy({ perSecond: 10, burst: 5, clock });
    for (let i = 0; i < 5; i++) expect(limiter.tryAcquire()).toBe(0);
    expect(limiter.available).toBe(0);
    clock.advance(250);
    expect(limiter.available).toBeCloseTo(2.5, 10);
    expect(limiter.tryAcquire()).toBe(0);
    expect(limiter.tryAcquire()).toBe(0);
    expect(limiter.available).toBeCloseTo(0.5, 10);
    expect(limiter.tryAcquire()).toBe(50);
    clock.advance(60_000);
    expect(limiter.available).toBe(5);
    expect(clock.pending).toBe(0); // no timer
  });

  it('defaults burst to perSecond and perSecond to 100', () => {
    const clock = new ManualClock();
    const a = new RateLimitPolicy({ perSecond: 2.5, clock });
    expect(a.available).toBe(3);
    expect(new RateLimitPolicy({ clock }).available).toBe(100);
  });

  it('reconfigure keeps the tokens earned so far, capped at the new burst', () => {
    const clock = new ManualClock();
    const limiter = new RateLimitPolicy({ perSecond: 10, burst: 10, clock });
    for (let i = 0; i < 6; i++) limiter.tryAcquire();
    limiter.reconfigure({ perSecond: 1, burst: 20 });
    expect(limiter.available).toBe(4);
    clock.advance(1000);
    expect(limiter.available).toBe(5);
    limiter.reconfigure({ perSecond: 1, burst: 2 });
    expect(limiter.available).toBe(2);
  });

  it('rejects a bad rule with a ConfigError naming the field', () => {
    expect(() => new RateLimitPolicy({ perSecond: 0 })).toThrow(
      expect.objectContaining({ code: 'MESHLESS_INVALID_OPTION', path: 'perSecond' }),
    );
    expect(() => new RateLimitPolicy({ burst: 0.5 })).toThrow(/burst/);
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps one bucket per caller', async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1, clock });
    await expect(limiter.execute('a', ok)).resolves.toBe('ok');
    await expect(limiter.execute('a', ok)).rejects.toMatchObject({ retryAfterMs: 1000 });
    await expect(limiter.execute('b', ok)).resolves.toBe('ok');
  });

  it('tracks at most maxCallers keys and forgets the least recently seen', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1, maxCallers: 2, clock });
    expect(limiter.tryAcquire('a')).toBe(0);
    expect(limiter.tryAcquire('b')).toBe(0);
    expect(limiter.tryAcquire('a')).toBeGreaterThan(0); // a is now the most recent
    expect(limiter.tryAcquire('c')).toBe(0); // evicts b
    expect(limiter.size).toBe(2);
    expect(limiter.tryAcquire('a')).toBeGreaterThan(0); // a kept its empty bucket
    expect(limiter.tryAcquire('b')).toBe(0); // b came back with a full bucket
  });

  it('reconfigure applies the new shape to every bucket and the new key bound', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ perSecond: 10, burst: 10, clock });
    for (const key of ['a', 'b', 'c']) limiter.tryAcquire(key);
    limiter.reconfigure({ perSecond: 10, burst: 2, maxCallers: 2 });
    expect(limiter.size).toBe(2);
    expect(limiter.tryAcquire('c')).toBe(0);
    expect(limiter.tryAcquire('c')).toBe(0);
    expect(limiter.tryAcquire('c')).toBe(100);
  });

  it('createRateLimiter builds the keyed variant for perCaller: true', () => {
    expect(createRateLimiter({ perSecond: 5, perCaller: true })).toBeInstanceOf(KeyedRateLimiter);
    expect(createRateLimiter({ perSecond: 5 })).toBeInstanceOf(RateLimitPolicy);
  });
});
