import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.ts';
import { DeadlineEntry, DeadlineQueue } from './deadline-queue.ts';
import { ManualClock } from './testing/manual-clock.ts';

class Named extends DeadlineEntry {
  constructor(readonly name: string) {
    super();
  }
}

function setup(timeoutMs = 100) {
  const clock = new ManualClock();
  const fired: string[] = [];
  const queue = new DeadlineQueue<Named>(timeoutMs, (e) => fired.push(e.name), clock);
  return { clock, fired, queue };
}

/** Ref'd timers of this process (unref'd ones are not listed). */
function refdTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('DeadlineQueue', () => {
  it('expires entries timeoutMs after they were added, in insertion order, on one timer', () => {
    const { clock, fired, queue } = setup();
    queue.add(new Named('a'));
    clock.advance(30);
    queue.add(new Named('b'));
    queue.add(new Named('c'));
    expect(clock.pending).toBe(1);
    expect(queue.size).toBe(3);
    clock.advance(69);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['a']);
    clock.advance(30);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('never expires a cancelled entry; cancel is false once it expired or was cancelled', () => {
    const { clock, fired, queue } = setup();
    const a = queue.add(new Named('a'));
    const b = queue.add(new Named('b'));
    const c = queue.add(new Named('c'));
    expect(queue.cancel(b)).toBe(true);
    expect(b.queued).toBe(false);
    expect(queue.cancel(b)).toBe(false);
    clock.advance(100);
    expect(fired).toEqual(['a', 'c']);
    expect(queue.cancel(a)).toBe(false);
    expect(queue.cancel(c)).toBe(false);
  });

  it('after the head is cancelled, the next entry still expires at its own deadline', () => {
    const { clock, fired, queue } = setup();
    const a = queue.add(new Named('a'));
    clock.advance(40);
    queue.add(new Named('b'));
    queue.cancel(a);
    clock.advance(60); // a's deadline: nothing due, the timer re-arms for b
    expect(fired).toEqual([]);
    expect(clock.pending).toBe(1);
    clock.advance(39);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['b']);
  });

  it('leaves no timer once empty, and arms a new one for the next entry', () => {
    const { clock, fired, queue } = setup();
    queue.add(new Named('a'));
    clock.advance(100);
    expect(fired).toEqual(['a']);
    expect(clock.pending).toBe(0);

    // Emptied by cancel: the armed timer lapses once at the old deadline and is not re-armed.
    const b = queue.add(new Named('b'));
    queue.cancel(b);
    clock.advance(100);
    expect(clock.pending).toBe(0);

    queue.add(new Named('c'));
    expect(clock.pending).toBe(1);
    clock.advance(100);
    expect(fired).toEqual(['a', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('an entry can be added again after it expired or was cancelled', () => {
    const { clock, fired, queue } = setup();
    const a = queue.add(new Named('a'));
    expect(() => queue.add(a)).toThrow(/already queued/);
    queue.cancel(a);
    queue.add(a);
    clock.advance(100);
    queue.add(a);
    clock.advance(100);
    expect(fired).toEqual(['a', 'a']);
  });

  it('entries added while expiring wait their full timeout, behind those already queued', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const queue: DeadlineQueue<Named> = new DeadlineQueue<Named>(
      100,
      (e) => {
        fired.push(e.name);
        if (e.name === 'a') queue.add(new Named('a2'));
      },
      clock,
    );
    queue.add(new Named('a'));
    clock.advance(50);
    queue.add(new Named('b'));
    clock.advance(50);
    expect(fired).toEqual(['a']);
    expect(clock.pending).toBe(1);
    clock.advance(50);
    expect(fired).toEqual(['a', 'b']);
    clock.advance(50);
    expect(fired).toEqual(['a', 'b', 'a2']);
  });

  it('a throwing onExpire does not stop later entries from expiring', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const queue = new DeadlineQueue<Named>(
      10,
      (e) => {
        fired.push(e.name);
        throw new Error('listener bug');
      },
      clock,
    );
    queue.add(new Named('a'));
    queue.add(new Named('b'));
    expect(() => clock.advance(10)).not.toThrow();
    expect(fired).toEqual(['a', 'b']);
  });

  it('keeps deadlines in order when a caller passes a stale reading of the clock', () => {
    const { clock, fired, queue } = setup();
    clock.advance(50);
    queue.add(new Named('a'));
    queue.add(new Named('b'), 0); // read before a was added
    clock.advance(100);
    expect(fired).toEqual(['a', 'b']);
  });

  it('dispose stops the timer and drops waiting entries; later adds never expire', () => {
    const { clock, fired, queue } = setup();
    const a = queue.add(new Named('a'));
    queue.dispose();
    expect(clock.pending).toBe(0);
    expect(a.queued).toBe(false);
    queue.add(new Named('b'));
    clock.advance(1000);
    expect(fired).toEqual([]);
    expect(queue.size).toBe(0);
  });

  it('rejects a timeoutMs that is not a finite number above 0', () => {
    const clock = new ManualClock();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new DeadlineQueue(bad, () => {}, clock)).toThrow(RangeError);
    }
  });

  it('on the system clock, its timer is unref-ed: it never keeps the process alive', () => {
    const before = refdTimers();
    const queue = new DeadlineQueue(60_000, () => {}, systemClock);
    const entry = queue.add(new DeadlineEntry());
    expect(entry.queued).toBe(true);
    expect(refdTimers()).toBe(before);
    queue.dispose();
  });
});
