import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrencyPolicy } from './adaptive-concurrency-policy.ts';
import { ConcurrencyLimitError } from './concurrency-limit-error.ts';
import { createConcurrencyLimiter } from './factories.ts';

function setup(delayMs = () => 0) {
  const clock = new ManualClock();
  const policy = new AdaptiveConcurrencyPolicy({
    clock,
    eventLoopDelay: delayMs,
    windowMs: 100,
    initialLimit: 20,
    minLimit: 5,
    maxLimit: 100,
    resource: 'inbound',
  });
  return { clock, policy };
}

/** Runs `limit` calls at once, each taking `rttMs` on the manual clock. */
async function wave(clock: ManualClock, policy: AdaptiveConcurrencyPolicy, rttMs: number): Promise<void> {
  const calls = Array.from({ length: policy.limit }, () =>
    policy.execute(() => new Promise<void>((resolve) => clock.setTimeout(resolve, rttMs))),
  );
  clock.advance(rttMs);
  await Promise.all(calls);
}

/** Runs waves for `ms` of manual time. */
async function traffic(clock: ManualClock, policy: AdaptiveConcurrencyPolicy, rttMs: number, ms: number) {
  for (let t = 0; t < ms; t += rttMs) await wave(clock, policy, rttMs);
}

describe('AdaptiveConcurrencyPolicy', () => {
  it('rejects calls over the limit with ConcurrencyLimitError', async () => {
    const clock = new ManualClock();
    const policy = new AdaptiveConcurrencyPolicy({ clock, eventLoopDelay: () => 0, initialLimit: 5 });
    const running = Array.from({ length: 5 }, () => policy.execute(() => new Promise<void>(() => {})));
    expect(policy.inflight).toBe(5);
    const error = await policy.execute(async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyLimitError);
    expect(error).toMatchObject({ code: 'MESHLESS_CONCURRENCY_LIMITED', limit: 5 });
    expect(running).toHaveLength(5);
  });

  it('raises the limit while latency stays low', async () => {
    const { clock, policy } = setup();
    const changes: number[] = [];
    policy.onDidChangeLimit((c) => changes.push(c.limit));
    await traffic(clock, policy, 10, 2000);
    expect(policy.limit).toBeGreaterThanOrEqual(30);
    expect(changes.length).toBeGreaterThan(5);
    expect(changes).toEqual([...changes].sort((a, b) => a - b));
  });

  it('lowers the limit when latency grows', async () => {
    const { clock, policy } = setup();
    await traffic(clock, policy, 10, 1000);
    const before = policy.limit;
    await traffic(clock, policy, 50, 1000);
    expect(policy.limit).toBeLessThan(before * 0.75);
  });

  it('lowers the limit when the event loop lags, even with low latency', async () => {
    let delay = 0;
    const { clock, policy } = setup(() => delay);
    await traffic(clock, policy, 10, 1000);
    const before = policy.limit;
    delay = 200; // far over the 50 ms default
    await traffic(clock, policy, 10, 1000);
    expect(policy.limit).toBeLessThan(before * 0.75);
    delay = 0;
    const low = policy.limit;
    await traffic(clock, policy, 10, 1000);
    expect(policy.limit).toBeGreaterThan(low);
  });

  it('never leaves minLimit..maxLimit', async () => {
    const { clock, policy } = setup(() => 1000);
    await traffic(clock, policy, 10, 3000);
    expect(policy.limit).toBe(5);
  });

  it('frees the slot when the work fails', async () => {
    const clock = new ManualClock();
    const policy = new AdaptiveConcurrencyPolicy({
      clock,
      eventLoopDelay: () => 0,
      initialLimit: 1,
      minLimit: 1,
    });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(policy.inflight).toBe(0);
    await expect(policy.execute(async () => 2)).resolves.toBe(2);
  });

  it('reconfigure keeps the learned limit within the new bounds', async () => {
    const { clock, policy } = setup();
    await traffic(clock, policy, 10, 1000);
    policy.reconfigure({ minLimit: 1, maxLimit: 25, initialLimit: 10 });
    expect(policy.limit).toBe(25);
  });

  it('createConcurrencyLimiter builds the adaptive policy or a queue-less bulkhead', async () => {
    const adaptive = createConcurrencyLimiter({ adaptive: true, maxLimit: 50 }, { eventLoopDelay: () => 0 });
    expect(adaptive).toBeInstanceOf(AdaptiveConcurrencyPolicy);
    const fixed = createConcurrencyLimiter({ max: 1 });
    const hold = fixed.execute(() => new Promise<void>(() => {}));
    await expect(fixed.execute(async () => 1)).rejects.toMatchObject({ code: 'MESHLESS_BULKHEAD_FULL' });
    expect(hold).toBeInstanceOf(Promise);
  });
});
