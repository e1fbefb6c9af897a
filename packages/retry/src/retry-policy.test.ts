import {
  ConfigError,
  DeadlineExceededError,
  type ExecuteContext,
  RetryBudgetExhaustedError,
  TimeoutError,
  wrap,
} from '@meshless/core';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { runWithDeadline } from './deadline.ts';
import { DeadlinePolicy } from './deadline-policy.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.ts';
import type { GiveUpEvent, RetryEvent } from './retry-run.ts';

/** Lets every pending promise continuation run (p-retry awaits a lot between attempts). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });

function setup(options: RetryPolicyOptions = {}) {
  const clock = new ManualClock();
  const policy = new RetryPolicy({ clock, random: seededRandom(7), resource: 'catalog', ...options });
  const retries: RetryEvent[] = [];
  const giveUps: GiveUpEvent[] = [];
  policy.onRetry((e) => retries.push(e));
  policy.onGiveUp((e) => giveUps.push(e));
  return { clock, policy, retries, giveUps };
}

/** Work that fails with `failures` in turn, then returns 'ok'; records each attempt. */
function flaky(failures: unknown[]) {
  const seen: ExecuteContext[] = [];
  const fn = async (ctx: ExecuteContext) => {
    seen.push(ctx);
    const next = failures[seen.length - 1];
    if (next !== undefined) throw next;
    return 'ok';
  };
  return { fn, seen };
}

/** Runs the call, advancing the clock in steps until it settles. */
async function drive<T>(clock: ManualClock, promise: Promise<T>, stepMs = 10, maxSteps = 10_000) {
  let settled = false;
  const outcome = promise.then(
    (value) => ({ value, error: undefined as unknown }),
    (error: unknown) => ({ value: undefined, error }),
  );
  void outcome.then(() => {
    settled = true;
  });
  for (let i = 0; i < maxSteps && !settled; i++) {
    await flush();
    if (!settled) clock.advance(stepMs);
  }
  return outcome;
}

describe('RetryPolicy', () => {
  it('makes exactly one attempt with attempts 1 (the default)', async () => {
    const { policy } = setup();
    const { fn, seen } = flaky([refused(), refused()]);
    await expect(policy.execute(fn)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(seen).toHaveLength(1);
  });

  it('retries up to attempts, numbering ctx.attempt 1..n, and ends with the last error', async () => {
    const { clock, policy, retries, giveUps } = setup({ attempts: 3 });
    const errors = [refused(), refused(), refused(), refused()];
    const { fn, seen } = flaky(errors);
    const { error } = await drive(clock, policy.execute(fn));
    expect(error).toBe(errors[2]);
    expect(seen.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(retries.map((r) => r.attempt)).toEqual([2, 3]);
    expect(giveUps).toEqual([{ resource: 'catalog', attempts: 3, reason: 'attempts', failure: errors[2] }]);
  });

  it('returns the first success', async () => {
    const { clock, policy, giveUps } = setup({ attempts: 3 });
    const { fn, seen } = flaky([refused()]);
    expect(await drive(clock, policy.execute(fn))).toEqual({ value: 'ok', error: undefined });
    expect(seen).toHaveLength(2);
    expect(giveUps).toHaveLength(0);
  });

  it('does not retry what the classifier calls fatal', async () => {
    const { policy, giveUps } = setup({ attempts: 3 });
    const bug = new Error('bug');
    const { fn, seen } = flaky([bug]);
    await expect(policy.execute(fn)).rejects.toBe(bug);
    expect(seen).toHaveLength(1);
    expect(giveUps[0]?.reason).toBe('not-retriable');
  });

  it('retries a TypeError caused by a refused connection (undici fetch), which p-retry alone would not', async () => {
    const { clock, policy } = setup({ attempts: 3 });
    const fetchFailed = new TypeError('fetch failed', { cause: refused() });
    const { fn, seen } = flaky([fetchFailed, new TypeError('request failed', { cause: refused() })]);
    expect((await drive(clock, policy.execute(fn))).value).toBe('ok');
    expect(seen).toHaveLength(3);
  });

  it('waits a full-jitter backoff before each retry: uniform in [0, min(maxMs, baseMs * 2^n))', async () => {
    const { clock, policy, retries } = setup({ attempts: 5, backoff: { baseMs: 100, maxMs: 300 } });
    for (let call = 0; call < 40; call++) {
      const { fn } = flaky([refused(), refused(), refused(), refused()]);
      await drive(clock, policy.execute(fn), 1);
    }
    const ceilings = [100, 200, 300, 300];
    for (const r of retries) {
      expect(r.delayMs).toBeGreaterThanOrEqual(0);
      expect(r.delayMs).toBeLessThan(ceilings[r.attempt - 2]!);
    }
    expect(retries).toHaveLength(160);
  });

  it('draws first-retry delays uniformly (chi-square, 10 bins, p = 0.001)', async () => {
    const { clock, policy, retries } = setup({ attempts: 2, backoff: { baseMs: 100, maxMs: 100 } });
    for (let call = 0; call < 1000; call++) {
      const { fn } = flaky([refused()]);
      const p = policy.execute(fn);
      await flush();
      clock.advance(100);
      await p;
    }
    const bins = new Array<number>(10).fill(0);
    for (const r of retries) bins[Math.floor(r.delayMs / 10)]! += 1;
    const expected = retries.length / 10;
    const chi2 = bins.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.88); // chi-square critical value, 9 degrees of freedom
  });

  it('does not start the retry before its delay has passed', async () => {
    const { clock, policy, retries } = setup({ attempts: 2, backoff: { baseMs: 1000, maxMs: 1000 } });
    const { fn, seen } = flaky([refused()]);
    const p = policy.execute(fn);
    await flush();
    const delay = retries[0]!.delayMs;
    expect(delay).toBeGreaterThan(0);
    clock.advance(delay - 1);
    await flush();
    expect(seen).toHaveLength(1);
    clock.advance(1);
    expect(await p).toBe('ok');
    expect(seen).toHaveLength(2);
  });

  it('honours Retry-After on a 503 result when it fits the deadline, and returns the last result', async () => {
    const { clock, policy, retries } = setup({ attempts: 2 });
    const unavailable = { status: 503, headers: new Headers({ 'retry-after': '2' }) };
    let calls = 0;
    const p = runWithDeadline(5000, () =>
      policy.execute(async () => {
        calls++;
        return unavailable;
      }),
    );
    await flush();
    expect(retries[0]?.delayMs).toBe(2000);
    clock.advance(1999);
    await flush();
    expect(calls).toBe(1);
    clock.advance(1);
    expect(await p).toBe(unavailable); // attempts spent: the caller gets the response
    expect(calls).toBe(2);
  });

  it('does not retry when Retry-After outlasts the deadline (or maxMs without one)', async () => {
    const { policy, giveUps } = setup({ attempts: 3, on: ['429'] });
    const limited = { status: 429, headers: { 'retry-after': '3' } };
    let calls = 0;
    const work = async () => {
      calls++;
      return limited;
    };
    expect(await runWithDeadline(2000, () => policy.execute(work))).toBe(limited);
    expect(await policy.execute(work)).toBe(limited); // maxMs default 1000 < 3000
    expect(calls).toBe(2);
    expect(giveUps.map((g) => g.reason)).toEqual(['retry-after', 'retry-after']);
  });

  it('stops when the next backoff would outlast the deadline', async () => {
    const { policy, giveUps } = setup({ attempts: 3, backoff: { baseMs: 1000, maxMs: 1000 } });
    const error = refused();
    const { fn, seen } = flaky([error, error]);
    // seededRandom(7) draws a first delay well above 1 ms
    await expect(runWithDeadline(1, () => policy.execute(fn))).rejects.toBe(error);
    expect(seen).toHaveLength(1);
    expect(giveUps[0]?.reason).toBe('deadline');
  });

  it('retries a non-idempotent POST only when the call is declared idempotent', async () => {
    const { clock, policy } = setup({ attempts: 3, backoff: { baseMs: 0, maxMs: 0 } });
    const post = flaky([refused()]);
    await expect(policy.forRequest('POST').execute(post.fn)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(post.seen).toHaveLength(1);
    const declared = flaky([refused()]);
    expect(await drive(clock, policy.forRequest('post', true).execute(declared.fn))).toMatchObject({
      value: 'ok',
    });
    expect(declared.seen).toHaveLength(2);
    expect(policy.forRequest('get')).toBe(policy);
    expect(policy.forRequest('DELETE')).toBe(policy);
  });

  it('stops with the last error when the budget denies a retry, and says so in an event', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 0, clock });
    const { policy, giveUps } = setup({ attempts: 3, budget });
    const exhausted: RetryBudgetExhaustedError[] = [];
    policy.onBudgetExhausted((e) => exhausted.push(e.error));
    const error = refused();
    const { fn, seen } = flaky([error]);
    await expect(policy.execute(fn)).rejects.toBe(error);
    expect(seen).toHaveLength(1);
    expect(giveUps[0]?.reason).toBe('budget');
    expect(exhausted[0]).toBeInstanceOf(RetryBudgetExhaustedError);
    expect(exhausted[0]).toMatchObject({
      code: 'MESHLESS_RETRY_BUDGET_EXHAUSTED',
      resource: 'catalog',
      cause: error,
    });
  });

  it('deposits every call into its budget and spends one token per retry', async () => {
    const { clock, policy } = setup({
      attempts: 2,
      backoff: { baseMs: 0 },
      budget: { percent: 50, minPerSecond: 0 },
    });
    const budget = policy.current.budget!;
    for (let i = 0; i < 4; i++) await policy.execute(async () => 'ok');
    expect(budget.available).toBe(2);
    await drive(clock, policy.execute(flaky([refused()]).fn));
    expect(budget.available).toBe(1); // 5 deposits at 50% = 2, one spent
  });

  it('aborts an attempt at perTryTimeoutMs and retries it', async () => {
    const { clock, policy } = setup({ attempts: 2, perTryTimeoutMs: 100, backoff: { baseMs: 0 } });
    const signals: AbortSignal[] = [];
    const p = policy.execute((ctx) => {
      signals.push(ctx.signal);
      return ctx.attempt === 1 ? new Promise<string>(() => {}) : 'second';
    });
    await flush();
    expect(signals).toHaveLength(1);
    clock.advance(100);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError);
    expect(signals[0]!.reason).toMatchObject({ resource: 'catalog', timeoutMs: 100 });
    expect(await p).toBe('second');
    // The per-try queue's one timer lapses once at the last deadline and is not re-armed.
    clock.advance(100);
    expect(clock.pending).toBe(0);
  });

  it('times the attempts of concurrent calls on one timer, each at its own per-try timeout', async () => {
    const { clock, policy } = setup({ attempts: 1, perTryTimeoutMs: 100 });
    const hang = () => new Promise<string>(() => {});
    const a = policy.execute(hang);
    clock.advance(40);
    const b = policy.execute(hang);
    const c = policy.execute(hang);
    expect(clock.pending).toBe(1);
    const settled: string[] = [];
    a.catch(() => settled.push('a'));
    b.catch(() => settled.push('b'));
    c.catch(() => settled.push('c'));
    clock.advance(60);
    await flush();
    expect(settled).toEqual(['a']);
    clock.advance(40);
    await flush();
    expect(settled).toEqual(['a', 'b', 'c']);
    await expect(b).rejects.toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
  });

  it('applies perTryTimeoutMs even with attempts 1', async () => {
    const { clock, policy } = setup({ attempts: 1, perTryTimeoutMs: 100 });
    let calls = 0;
    const p = policy.execute(() => {
      calls++;
      return new Promise(() => {});
    });
    clock.advance(100);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(calls).toBe(1);
    expect(await policy.execute(() => ({ status: 503 }))).toEqual({ status: 503 });
  });

  it('fails with TimeoutError when every attempt times out', async () => {
    const { clock, policy } = setup({ attempts: 2, perTryTimeoutMs: 50, backoff: { baseMs: 0 } });
    const { error } = await drive(
      clock,
      policy.execute(() => new Promise(() => {})),
    );
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it('stops retrying as soon as the caller aborts', async () => {
    const { clock, policy } = setup({ attempts: 3, backoff: { baseMs: 1000, maxMs: 1000 } });
    const controller = new AbortController();
    const { fn, seen } = flaky([refused(), refused()]);
    const p = policy.execute(fn, controller.signal);
    await flush();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    clock.advance(5000);
    await flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal).toBe(controller.signal);
  });

  it('finishes in-flight calls under the settings they started with', async () => {
    const { clock, policy } = setup({ attempts: 3, backoff: { baseMs: 0 } });
    const inFlight = flaky([refused(), refused()]);
    const p = policy.execute(inFlight.fn);
    policy.reconfigure({ attempts: 1 });
    expect((await drive(clock, p)).value).toBe('ok');
    expect(inFlight.seen).toHaveLength(3);
    const later = flaky([refused()]);
    await expect(policy.execute(later.fn)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(later.seen).toHaveLength(1);
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    expect(() => new RetryPolicy({ attempts: 0 })).toThrow(ConfigError);
    expect(() => new RetryPolicy({ backoff: { baseMs: 500, maxMs: 100 } })).toThrow(
      expect.objectContaining({
        path: 'retry.backoff.maxMs',
        message: expect.stringMatching(/below baseMs 500/),
      }),
    );
    expect(() => new RetryPolicy({ on: ['sometimes'] })).toThrow(
      expect.objectContaining({ path: 'retry.on.0' }),
    );
  });

  it('cuts a per-try timeout short at the deadline, with DeadlineExceededError, and stops', async () => {
    const { clock, policy } = setup({ attempts: 3, perTryTimeoutMs: 1000, backoff: { baseMs: 0 } });
    let calls = 0;
    const p = runWithDeadline(300, () =>
      policy.execute(() => {
        calls++;
        return new Promise(() => {});
      }),
    );
    clock.advance(300);
    await expect(p).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(calls).toBe(1);
  });

  it('composes with wrap(): a deadline outside bounds every attempt and backoff together', async () => {
    const { clock, policy } = setup({ attempts: 10, backoff: { baseMs: 100, maxMs: 100 } });
    const deadline = new DeadlinePolicy({ clock, deadlineMs: 250, resource: 'catalog' });
    let calls = 0;
    const { error } = await drive(
      clock,
      wrap(deadline, policy).execute(async () => {
        calls++;
        throw refused();
      }),
      1,
    );
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThan(10); // nine backoffs of ~50 ms on average do not fit in 250 ms
    expect(clock.now()).toBeLessThanOrEqual(251);
    expect(error).toSatisfy(
      (e) => e instanceof DeadlineExceededError || (e as { code?: string }).code === 'ECONNREFUSED',
    );
  });

  it('keeps the counts of its budget across a reconfigure with a new budget shape', async () => {
    const { policy } = setup({ attempts: 2, budget: { percent: 10, minPerSecond: 0 } });
    const budget = policy.current.budget!;
    for (let i = 0; i < 100; i++) await policy.execute(async () => 'ok');
    policy.reconfigure({ attempts: 2, budget: { percent: 50, minPerSecond: 0 } });
    expect(policy.current.budget).toBe(budget);
    expect(budget.available).toBe(50);
  });
});
