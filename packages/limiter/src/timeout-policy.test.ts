import { type ExecuteContext, TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { TimeoutPolicy } from './timeout-policy.ts';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Work that finishes after `ms` on the manual clock and records the signal it was given. */
function work(clock: ManualClock, ms: number, seen: AbortSignal[] = []) {
  return (ctx: ExecuteContext) => {
    seen.push(ctx.signal);
    return new Promise<string>((resolve) => clock.setTimeout(() => resolve(`done after ${ms}`), ms));
  };
}

/** Work that never finishes on its own. */
const hang = (seen: AbortSignal[]) => (ctx: ExecuteContext) => {
  seen.push(ctx.signal);
  return new Promise<never>(() => {});
};

function settled<T>(p: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

describe('TimeoutPolicy', () => {
  it('rejects with TimeoutError at timeoutMs and aborts the work signal with it', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock, resource: 'catalog' });
    const seen: AbortSignal[] = [];
    const call = settled(policy.execute(hang(seen)));
    clock.advance(99);
    await flush();
    expect(call.done).toBe(false);
    expect(seen[0]!.aborted).toBe(false);
    clock.advance(1);
    await flush();
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(call.error).toMatchObject({ code: 'MESHLESS_TIMEOUT', resource: 'catalog', timeoutMs: 100 });
    expect(seen[0]!.aborted).toBe(true);
    expect(seen[0]!.reason).toBe(call.error);
  });

  it('resolves with the work result when it finishes in time', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const p = policy.execute(work(clock, 60));
    clock.advance(60);
    await expect(p).resolves.toBe('done after 60');
    clock.advance(100);
    await flush();
  });

  it('passes the work error through', async () => {
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock: new ManualClock() });
    await expect(policy.execute(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(policy.execute(() => 7)).resolves.toBe(7);
  });

  it('expires calls in start order with one timer for all of them', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const seen: AbortSignal[] = [];
    const calls = [];
    for (let i = 0; i < 3; i++) {
      calls.push(settled(policy.execute(hang(seen))));
      clock.advance(10);
    }
    expect(clock.pending).toBe(1);
    const doneAt: number[] = [];
    for (let t = clock.now(); t <= 130; t++) {
      clock.set(t);
      await flush();
      calls.forEach((c, i) => {
        if (c.done && doneAt[i] === undefined) doneAt[i] = t;
      });
    }
    expect(doneAt).toEqual([100, 110, 120]);
    expect(clock.pending).toBe(0);
  });

  it('keeps a single timer armed while many calls come and go', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 1000, clock });
    for (let i = 0; i < 100; i++) {
      const p = policy.execute(work(clock, 5));
      clock.advance(5);
      await p;
    }
    // One policy timer; the work timers have fired.
    expect(clock.pending).toBe(1);
  });

  it('aborts the work and rejects with the reason when the outer signal aborts', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const outer = new AbortController();
    const seen: AbortSignal[] = [];
    const p = policy.execute(hang(seen), outer.signal);
    const reason = new Error('caller left');
    outer.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(seen[0]!.aborted).toBe(true);
    expect(seen[0]!.reason).toBe(reason);
  });

  it('does not start the work when the outer signal is already aborted', async () => {
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock: new ManualClock() });
    let started = false;
    const reason = new Error('gone');
    await expect(
      policy.execute(() => {
        started = true;
      }, AbortSignal.abort(reason)),
    ).rejects.toBe(reason);
    expect(started).toBe(false);
  });

  it('hands out an already aborted signal when the work reads it after the timeout', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
    let ctx: ExecuteContext | undefined;
    const p = policy.execute((c) => {
      ctx = c;
      return new Promise(() => {});
    });
    clock.advance(10);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(ctx!.signal.aborted).toBe(true);
    expect(ctx!.signal.reason).toBeInstanceOf(TimeoutError);
  });

  it('reconfigure: calls in flight keep their timeout, new calls get the new one', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const old = settled(policy.execute(hang([])));
    policy.reconfigure({ timeoutMs: 30 });
    expect(policy.timeoutMs).toBe(30);
    const fresh = settled(policy.execute(hang([])));
    clock.advance(30);
    await flush();
    expect(fresh.error).toMatchObject({ timeoutMs: 30 });
    expect(old.done).toBe(false);
    clock.advance(70);
    await flush();
    expect(old.error).toMatchObject({ timeoutMs: 100 });
    expect(() => policy.reconfigure({ timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it('reports each timeout as an event', async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 5, clock, resource: 'catalog' });
    const events: unknown[] = [];
    policy.onDidTimeout((e) => events.push(e));
    const p = policy.execute(hang([]));
    clock.advance(5);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(events).toEqual([{ resource: 'catalog', timeoutMs: 5 }]);
  });

  it('rejects a bad timeoutMs with a ConfigError', () => {
    expect(() => new TimeoutPolicy({ timeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'MESHLESS_INVALID_OPTION', path: 'timeoutMs' }),
    );
  });
});
