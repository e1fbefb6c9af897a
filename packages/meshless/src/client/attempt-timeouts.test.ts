import { TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { AttemptTimeouts } from './attempt-timeouts.ts';

describe('AttemptTimeouts', () => {
  it('aborts expired attempts in order with a TimeoutError, with one timer for all', () => {
    const clock = new ManualClock();
    const timeouts = new AttemptTimeouts(100, 'catalog', clock);
    const fired: string[] = [];
    const a = timeouts.start();
    a.signal.addEventListener('abort', () => fired.push('a'));
    clock.advance(30);
    const b = timeouts.start();
    b.signal.addEventListener('abort', () => fired.push('b'));
    const c = timeouts.start();
    c.signal.addEventListener('abort', () => fired.push('c'));
    expect(clock.pending).toBe(1);
    timeouts.end(b); // answered in time
    clock.advance(69);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['a']);
    expect(a.signal.reason).toBeInstanceOf(TimeoutError);
    expect((a.signal.reason as TimeoutError).timeoutMs).toBe(100);
    clock.advance(30);
    expect(fired).toEqual(['a', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('forgets a removed listener and re-arms for later attempts', () => {
    const clock = new ManualClock();
    const timeouts = new AttemptTimeouts(50, 'x', clock);
    const a = timeouts.start();
    const listener = () => {
      throw new Error('must not fire');
    };
    a.signal.addEventListener('abort', listener);
    a.signal.removeEventListener('abort', listener);
    timeouts.end(a);
    clock.advance(60);
    const b = timeouts.start();
    let fired = 0;
    b.signal.addEventListener('abort', () => fired++);
    clock.advance(50);
    expect(fired).toBe(1);
  });
});
