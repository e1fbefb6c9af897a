import type { ExecuteContext } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { HedgePolicy, type HedgePolicyOptions } from './hedge-policy.ts';
import type { HedgeBudgetExhaustedEvent, HedgeEvent } from './hedged-call.ts';
import { RetryBudget } from './retry-budget.ts';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Attempt {
  ctx: ExecuteContext;
  resolve: (value: string) => void;
  reject: (error: unknown) => void;
}

/** Work whose attempts the test settles by hand. */
function controllable() {
  const attempts: Attempt[] = [];
  const fn = (ctx: ExecuteContext) =>
    new Promise<string>((resolve, reject) => {
      attempts.push({ ctx, resolve, reject });
    });
  return { fn, attempts };
}

function setup(options: HedgePolicyOptions = {}, clock = new ManualClock()) {
  const policy = new HedgePolicy({ clock, resource: 'catalog', delayMs: 50, ...options });
  const hedges: HedgeEvent[] = [];
  policy.onHedge((e) => hedges.push(e));
  return { clock, policy, hedges };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('HedgePolicy', () => {
  it('starts attempt 2 after delayMs while attempt 1 runs; the first success wins and the loser is aborted', async () => {
    const { clock, policy, hedges } = setup();
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(49);
    expect(attempts).toHaveLength(1);
    clock.advance(1);
    expect(attempts.map((a) => a.ctx.attempt)).toEqual([1, 2]);
    // The work can tell a hedge from a retry, and why it started (its span and metric say so).
    expect(attempts.map((a) => a.ctx.hedge)).toEqual([undefined, 'delay']);
    expect(hedges).toEqual([{ resource: 'catalog', attempt: 2, reason: 'delay' }]);
    attempts[1]!.resolve('from 2');
    expect(await p).toBe('from 2');
    expect(attempts[0]!.ctx.signal.aborted).toBe(true);
    expect(attempts[0]!.ctx.signal.reason).toMatchObject({ name: 'AbortError' });
    expect(attempts[1]!.ctx.signal.aborted).toBe(false);
  });

  it('starts no hedge and leaves no timer when the first attempt is fast', async () => {
    const { clock, policy } = setup();
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    expect(clock.pending).toBe(1);
    attempts[0]!.resolve('fast');
    expect(await p).toBe('fast');
    expect(clock.pending).toBe(0);
    clock.advance(1000);
    expect(attempts).toHaveLength(1);
  });

  it('starts at most maxAttempts, one delay apart', async () => {
    const { clock, policy } = setup({ maxAttempts: 3 });
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(50);
    clock.advance(50);
    clock.advance(500);
    expect(attempts.map((a) => a.ctx.attempt)).toEqual([1, 2, 3]);
    attempts[0]!.resolve('slow first');
    expect(await p).toBe('slow first');
    expect(attempts[1]!.ctx.signal.aborted && attempts[2]!.ctx.signal.aborted).toBe(true);
  });

  it('ends with the last failure when every attempt fails', async () => {
    const { clock, policy } = setup();
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(50);
    attempts[0]!.reject(refused());
    await flush();
    const last = refused();
    attempts[1]!.reject(last);
    await expect(p).rejects.toBe(last);
  });

  it('starts the next attempt at once when the only running one fails retriably', async () => {
    const { policy, hedges } = setup({ delayMs: 1000 });
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    attempts[0]!.reject(refused());
    await flush();
    expect(attempts).toHaveLength(2);
    expect(hedges[0]?.reason).toBe('failure');
    expect(attempts[1]!.ctx.hedge).toBe('failure');
    attempts[1]!.resolve('ok');
    expect(await p).toBe('ok');
  });

  it('ends at once on a fatal failure and aborts the others', async () => {
    const { clock, policy } = setup();
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(50);
    const bug = new Error('bug');
    attempts[1]!.reject(bug);
    await expect(p).rejects.toBe(bug);
    expect(attempts[0]!.ctx.signal.aborted).toBe(true);
  });

  it('draws hedges from the retry budget and reports a denial', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 100, minPerSecond: 0, clock });
    const { policy } = setup({ budget }, clock);
    const denied: HedgeBudgetExhaustedEvent[] = [];
    policy.onBudgetExhausted((e) => denied.push(e));
    const first = controllable();
    const p1 = policy.execute(first.fn); // deposit 1: one hedge allowed
    clock.advance(50);
    expect(first.attempts).toHaveLength(2);
    expect(budget.available).toBe(0);
    const second = controllable();
    const p2 = policy.execute(second.fn); // deposit 2: one more allowed
    const third = controllable();
    const p3 = policy.execute(third.fn); // deposit 3: 3 x 100% - 1 spent = 2 left
    expect(budget.available).toBe(2);
    budget.tryWithdraw();
    budget.tryWithdraw();
    clock.advance(50);
    expect(second.attempts).toHaveLength(1);
    expect(third.attempts).toHaveLength(1);
    expect(denied).toEqual([
      { resource: 'catalog', attempt: 2 },
      { resource: 'catalog', attempt: 2 },
    ]);
    for (const a of [first.attempts[0]!, second.attempts[0]!, third.attempts[0]!]) a.resolve('ok');
    expect(await Promise.all([p1, p2, p3])).toEqual(['ok', 'ok', 'ok']);
  });

  it('does not send a hedge while the budget is empty, and counts the refusal once', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 0, clock });
    const { policy, hedges } = setup({ budget }, clock);
    const denied: HedgeBudgetExhaustedEvent[] = [];
    policy.onBudgetExhausted((e) => denied.push(e));
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(50); // the hedge is due: refused
    expect(attempts).toHaveLength(1);
    expect(denied).toEqual([{ resource: 'catalog', attempt: 2 }]);
    // The first attempt fails retriably: the hedge that would start now is the same one, refused.
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    attempts[0]!.reject(refused);
    await expect(p).rejects.toBe(refused);
    expect(attempts).toHaveLength(1);
    expect(denied).toHaveLength(1);
    expect(hedges).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('sends the hedge of a failed attempt when the budget has a token again', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 1, clock });
    expect(budget.tryWithdraw()).toBe(true); // the reserve's one token, spent
    const { policy } = setup({ budget }, clock);
    const denied: HedgeBudgetExhaustedEvent[] = [];
    policy.onBudgetExhausted((e) => denied.push(e));
    const { fn, attempts } = controllable();
    const p = policy.execute(fn);
    clock.advance(50);
    expect(denied).toHaveLength(1);
    clock.advance(950); // the token is back
    attempts[0]!.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    await flush();
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.ctx.hedge).toBe('failure');
    attempts[1]!.resolve('ok');
    expect(await p).toBe('ok');
  });

  it('does not hedge a non-idempotent POST unless declared idempotent', async () => {
    const { clock, policy } = setup();
    const post = controllable();
    const p = policy.forRequest('POST').execute(post.fn);
    clock.advance(500);
    expect(post.attempts).toHaveLength(1);
    post.attempts[0]!.resolve('ok');
    await p;
    expect(policy.forRequest('POST', true)).toBe(policy);
    expect(policy.forRequest('GET')).toBe(policy);
  });

  it('aborts every attempt with the caller’s reason when the caller aborts', async () => {
    const { clock, policy } = setup();
    const { fn, attempts } = controllable();
    const controller = new AbortController();
    const p = policy.execute(fn, controller.signal);
    clock.advance(50);
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(attempts.every((a) => a.ctx.signal.reason === reason)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  describe("delayMs 'p95'", () => {
    it('does not hedge before 20 successful calls, then hedges at their p95 latency', async () => {
      const { clock, policy } = setup({ delayMs: 'p95' });
      expect(policy.delayMs).toBeUndefined();
      for (let i = 1; i <= 20; i++) {
        const { fn, attempts } = controllable();
        const p = policy.execute(fn);
        expect(clock.pending).toBe(0); // not hedging yet: no timer
        clock.advance(i * 10); // latencies 10..200 ms
        attempts[0]!.resolve('ok');
        await p;
      }
      const p95 = policy.delayMs!;
      expect(p95).toBeGreaterThanOrEqual(190);
      expect(p95).toBeLessThanOrEqual(190 * 1.1);
      const { fn, attempts } = controllable();
      const p = policy.execute(fn);
      clock.advance(p95 - 1);
      expect(attempts).toHaveLength(1);
      clock.advance(1);
      expect(attempts).toHaveLength(2);
      attempts[0]!.resolve('ok');
      await p;
    });

    it('learns only from successes', async () => {
      const { clock, policy } = setup({ delayMs: 'p95' });
      for (let i = 0; i < 30; i++) {
        const p = policy.execute(() => Promise.reject(new Error('down')));
        clock.advance(10);
        await expect(p).rejects.toThrow('down');
      }
      expect(policy.delayMs).toBeUndefined();
    });
  });
});
