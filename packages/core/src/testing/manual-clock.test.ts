import { describe, expect, it } from 'vitest';
import { sleep } from '../clock.ts';
import { ManualClock } from './manual-clock.ts';

describe('ManualClock', () => {
  it('fires timers in time order as time advances, and not before', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const c = clock.setTimeout(() => fired.push('c'), 15);
    c.cancel();
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(20);
  });

  it('drives sleep()', async () => {
    const clock = new ManualClock();
    let done = false;
    const p = sleep(100, undefined, clock).then(() => {
      done = true;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await p;
    expect(done).toBe(true);
  });
});
