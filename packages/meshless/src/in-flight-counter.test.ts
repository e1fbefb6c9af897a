import { describe, expect, it } from 'vitest';
import { InFlightCounter } from './in-flight-counter.ts';

describe('InFlightCounter', () => {
  it('resolves idle() when the last call leaves, not before', async () => {
    const counter = new InFlightCounter();
    counter.enter();
    counter.enter();
    let idle = false;
    const waiting = counter.idle(60_000).then(() => {
      idle = true;
    });
    counter.leave();
    await Promise.resolve();
    expect(idle).toBe(false);
    expect(counter.count).toBe(1);
    counter.leave();
    await waiting;
    expect(idle).toBe(true);
    expect(counter.count).toBe(0);
  });

  it('resolves at once with nothing in flight, and after maxMs when a call never ends', async () => {
    const counter = new InFlightCounter();
    await counter.idle(60_000);
    counter.enter();
    const started = performance.now();
    await counter.idle(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(counter.count).toBe(1);
  });
});
