import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { BucketRotation, RollingWindow } from './opossum-adapter.ts';

describe('RollingWindow (opossum Status on a shared rotation)', () => {
  it('counts calls, failures and slow calls, and drops the oldest bucket on each tick', () => {
    const clock = new ManualClock();
    const rotation = new BucketRotation({ clock, bucketMs: 100 });
    const window = new RollingWindow(rotation, 300); // three buckets
    window.success();
    window.record(true, false, 5);
    clock.advance(100);
    window.record(false, true, 150);
    expect(window.counts()).toEqual({ calls: 3, failures: 1, slow: 1 });
    window.record(true, true, 120); // read after every outcome: the sums follow without a rescan
    expect(window.counts()).toEqual({ calls: 4, failures: 2, slow: 2 });
    clock.advance(200); // the first bucket leaves the window
    expect(window.counts()).toEqual({ calls: 2, failures: 1, slow: 2 });
    clock.advance(100);
    expect(window.counts()).toEqual({ calls: 0, failures: 0, slow: 0 });
  });

  it('keeps counts on resize and forgets them on reset', () => {
    const clock = new ManualClock();
    const rotation = new BucketRotation({ clock, bucketMs: 100 });
    const window = new RollingWindow(rotation, 1000);
    window.record(true, false, 1);
    window.success();
    window.resize(5000);
    expect(window.counts()).toEqual({ calls: 2, failures: 1, slow: 0 });
    clock.advance(4900);
    expect(window.counts().calls).toBe(2);
    clock.advance(100);
    expect(window.counts().calls).toBe(0);
    window.success();
    window.reset();
    expect(window.counts().calls).toBe(0);
  });

  it('arms one timer for many windows, only while any is attached', () => {
    const clock = new ManualClock();
    const rotation = new BucketRotation({ clock, bucketMs: 1000 });
    const windows = Array.from({ length: 100 }, () => new RollingWindow(rotation, 10_000));
    expect(rotation.size).toBe(100);
    expect(clock.pending).toBe(1);
    for (const w of windows) w.dispose();
    expect(rotation.running).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('replays missed ticks after a stall so old counts still leave the window', () => {
    let now = 0;
    const fired: (() => void)[] = [];
    const clock = {
      now: () => now,
      wallNow: () => now,
      setTimeout: (fn: () => void) => {
        fired.push(fn);
        return { cancel() {} };
      },
    };
    const rotation = new BucketRotation({ clock, bucketMs: 100 });
    const window = new RollingWindow(rotation, 300);
    window.record(true, false, 1);
    now = 350; // the event loop was blocked for three buckets
    fired.shift()!();
    expect(window.counts().calls).toBe(0);
  });
});
