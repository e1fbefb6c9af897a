import { TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { AttemptTimeouts } from './attempt-timeouts.ts';

/** An abort target that records what aborted it. */
function target(name: string, fired: string[], reasons: unknown[] = []) {
  return {
    abort(reason: unknown) {
      fired.push(name);
      reasons.push(reason);
    },
  };
}

describe('AttemptTimeouts', () => {
  it('aborts expired attempts in order with a TimeoutError, with one timer for all', () => {
    const clock = new ManualClock();
    const timeouts = new AttemptTimeouts(100, 'catalog', clock);
    const fired: string[] = [];
    const reasons: unknown[] = [];
    const a = timeouts.start();
    a.target = target('a', fired, reasons);
    clock.advance(30);
    const b = timeouts.start();
    b.target = target('b', fired);
    const c = timeouts.start();
    c.target = target('c', fired);
    expect(clock.pending).toBe(1);
    timeouts.end(b); // answered in time
    clock.advance(69);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['a']);
    expect(reasons[0]).toBeInstanceOf(TimeoutError);
    expect((reasons[0] as TimeoutError).timeoutMs).toBe(100);
    clock.advance(30);
    expect(fired).toEqual(['a', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('never aborts an ended attempt, and re-arms for later attempts', () => {
    const clock = new ManualClock();
    const timeouts = new AttemptTimeouts(50, 'x', clock);
    const fired: string[] = [];
    const a = timeouts.start();
    a.target = target('a', fired);
    timeouts.end(a);
    clock.advance(60);
    expect(fired).toEqual([]);
    const b = timeouts.start();
    b.target = target('b', fired);
    clock.advance(50);
    expect(fired).toEqual(['b']);
  });
});
