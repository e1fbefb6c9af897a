import { describe, expect, it } from 'vitest';
import { ManualClock } from './testing/manual-clock.ts';
import { bucketShape, TokenBucket } from './token-bucket.ts';

describe('TokenBucket', () => {
  it('grants the burst at once, then perSecond sustained, and says how long to wait', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(bucketShape(10, 3), clock);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0]);
    expect(bucket.tryTake()).toBe(100);
    clock.advance(40);
    expect(bucket.tryTake()).toBe(60);
    clock.advance(60);
    expect(bucket.tryTake()).toBe(0);
    clock.advance(10_000);
    expect(bucket.available).toBe(3);
  });

  it('take() waits on the clock for the next token, and rejects when the signal aborts', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(bucketShape(10, 1), clock);
    await bucket.take();
    let done = false;
    const next = bucket.take().then(() => {
      done = true;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await next;
    expect(bucket.available).toBe(0);

    const controller = new AbortController();
    const aborted = bucket.take(controller.signal);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
  });

  it('reconfigure keeps the tokens earned, capped at the new burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(bucketShape(10, 5), clock);
    bucket.reconfigure(bucketShape(1, 2));
    expect(bucket.available).toBe(2);
    bucket.tryTake();
    bucket.tryTake();
    expect(bucket.tryTake()).toBe(1000);
  });
});
