import {
  BulkheadFullError,
  CircuitOpenError,
  ClosedError,
  ConfigError,
  DeadlineExceededError,
  type ExecuteContext,
  RateLimitedError,
  TimeoutError,
} from '@meshless/core';
import { runWithDeadline } from '@meshless/retry';
import { describe, expect, it } from 'vitest';
import type { GovernedChange } from './governed-policy.ts';
import { after, failing, flush, governorSetup, settled } from './test-support.ts';

describe('Governor: merge precedence', () => {
  it('resources/<name> > defaults/policies > code values, field by field', async () => {
    const { clock, source, governor } = governorSetup();
    const getItem = governor.policy(
      { kind: 'resource', name: 'catalog.getItem' },
      { timeoutMs: 500, retry: { attempts: 2, backoff: { baseMs: 10 } }, bulkhead: { maxConcurrent: 7 } },
    );
    expect(getItem.settings).toEqual({
      timeoutMs: 500,
      retry: { attempts: 2, backoff: { baseMs: 10 } },
      bulkhead: { maxConcurrent: 7 },
    });

    source.put('defaults/policies', { timeoutMs: 400, retry: { backoff: { maxMs: 300 } } });
    expect(getItem.settings.timeoutMs).toBe(400);
    expect(getItem.settings.retry).toEqual({ attempts: 2, backoff: { baseMs: 10, maxMs: 300 } });

    source.put('resources/catalog.getItem', { timeoutMs: 200, retry: { attempts: 4 } });
    expect(getItem.settings).toEqual({
      timeoutMs: 200,
      retry: { attempts: 4, backoff: { baseMs: 10, maxMs: 300 } },
      bulkhead: { maxConcurrent: 7 },
    });

    // The running timeout is the document's 200 ms: the first attempt times out then.
    const timeouts: number[] = [];
    getItem.policies.timeout!.onDidTimeout(() => timeouts.push(clock.now()));
    const started = clock.now();
    void settled(getItem.execute(after(clock, 250, 'late')));
    clock.advance(200);
    await flush();
    expect(timeouts).toEqual([started + 200]);

    // Deleting documents falls back layer by layer.
    source.delete('resources/catalog.getItem');
    expect(getItem.settings.timeoutMs).toBe(400);
    source.delete('defaults/policies');
    expect(getItem.settings.timeoutMs).toBe(500);
  });

  it('reads resources/<name> for a decorated resource and ignores `methods` outside service documents', () => {
    const { source, governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'catalog.getItem' }, { timeoutMs: 300 });
    source.put('resources/catalog.getItem', { timeoutMs: 250, methods: { getItem: { timeoutMs: 10 } } });
    source.put('defaults/policies', { bulkhead: { maxQueue: 5 }, methods: { getItem: { timeoutMs: 20 } } });
    expect(policy.settings).toEqual({ timeoutMs: 250, bulkhead: { maxQueue: 5 } });
    // Another resource's document does not touch it.
    source.put('resources/catalog.list', { timeoutMs: 1 });
    expect(policy.settings.timeoutMs).toBe(250);
  });

  it('runs nearly raw with no rule and no code value: no layer, sync throws become rejections', async () => {
    const { governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'raw' });
    expect(policy.layers).toEqual([]);
    await expect(policy.execute(() => 42)).resolves.toBe(42);
    const error = new Error('sync');
    const p = policy.execute(() => {
      throw error;
    });
    await expect(p).rejects.toBe(error);
  });

  it('builds the stack in order: fallback, rate limit, bulkhead, retry, breaker, timeout', () => {
    const { governor } = governorSetup();
    const policy = governor.policy(
      { kind: 'resource', name: 'all' },
      {
        timeoutMs: 100,
        breaker: {},
        retry: { attempts: 2 },
        bulkhead: {},
        rateLimit: { perSecond: 10 },
        fallback: null,
      },
    );
    expect(policy.layers).toEqual(['fallback', 'rateLimit', 'bulkhead', 'retry', 'breaker', 'timeout']);
  });
});

describe('Governor: rebuild on rule change', () => {
  it('keeps an open breaker open across a threshold change (reconfigured in place)', async () => {
    const { clock, source, governor } = governorSetup();
    source.put('resources/pay', { breaker: { volume: 4, errorPercent: 50, openMs: 1000 } });
    const policy = governor.policy({ kind: 'resource', name: 'pay' });
    const breaker = policy.policies.breaker;
    for (let i = 0; i < 4; i++) await expect(policy.execute(failing())).rejects.toThrow('boom');
    await expect(policy.execute(() => 'ok')).rejects.toBeInstanceOf(CircuitOpenError);

    source.put('resources/pay', { breaker: { volume: 100, errorPercent: 90, openMs: 1000 } });
    expect(policy.policies.breaker).toBe(breaker);
    expect(breaker!.options.volume).toBe(100);
    const rejected = policy.execute(() => 'ok');
    await expect(rejected).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(rejected).rejects.toMatchObject({ resource: 'pay' });

    clock.advance(1000);
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    expect(breaker!.state).toBe('half-open');
  });

  it('applies a lower threshold live: the breaker opens sooner', async () => {
    const { source, governor } = governorSetup();
    source.put('resources/pay', { breaker: { volume: 10 } });
    const policy = governor.policy({ kind: 'resource', name: 'pay' });
    for (let i = 0; i < 3; i++) await expect(policy.execute(failing())).rejects.toThrow('boom');
    expect(policy.policies.breaker!.state).toBe('closed');
    source.put('resources/pay', { breaker: { volume: 4 } });
    await expect(policy.execute(failing())).rejects.toThrow('boom');
    expect(policy.policies.breaker!.state).toBe('open');
  });

  it('drops a policy whose setting was removed, and adds it back fresh', async () => {
    const { clock, source, governor } = governorSetup();
    source.put('resources/slow', { timeoutMs: 50, bulkhead: { maxConcurrent: 1, maxQueue: 0 } });
    const policy = governor.policy({ kind: 'resource', name: 'slow' });
    expect(policy.layers).toEqual(['bulkhead', 'timeout']);
    const first = settled(policy.execute(after(clock, 100, 'a')));
    await expect(policy.execute(() => 'b')).rejects.toBeInstanceOf(BulkheadFullError);
    clock.advance(50);
    await flush();
    expect(first.error).toBeInstanceOf(TimeoutError);

    source.put('resources/slow', { bulkhead: { maxConcurrent: 1, maxQueue: 0 } });
    expect(policy.layers).toEqual(['bulkhead']);
    const second = settled(policy.execute(after(clock, 100, 'c')));
    clock.advance(100);
    await flush();
    expect(second.value).toBe('c');

    source.delete('resources/slow');
    expect(policy.layers).toEqual([]);
    expect(policy.policies.bulkhead).toBeUndefined();
  });

  it("ends a method at its caller's deadline (inherited, as in a served request), and only there", async () => {
    const { clock, governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'slow' });
    const inside = settled(
      runWithDeadline(clock.now() + 50, () => policy.call(after(clock, 200, 'late'), undefined, [])),
    );
    const outside = settled(policy.call(after(clock, 200, 'free'), undefined, []));
    clock.advance(50);
    await flush();
    expect(inside.error).toBeInstanceOf(DeadlineExceededError);
    expect(inside.error).toMatchObject({ resource: 'slow' });
    expect(outside.done).toBe(false);
    clock.advance(150);
    await flush();
    expect(outside.value).toBe('free');
  });

  it('lets a call in flight finish under the timeout it started with', async () => {
    const { clock, source, governor } = governorSetup();
    source.put('resources/r', { timeoutMs: 100 });
    const policy = governor.policy({ kind: 'resource', name: 'r' });
    const early = settled(policy.execute(after(clock, 80, 'early')));
    source.put('resources/r', { timeoutMs: 20 });
    const late = settled(policy.execute(after(clock, 80, 'late')));
    clock.advance(20);
    await flush();
    expect(late.error).toBeInstanceOf(TimeoutError);
    expect(early.done).toBe(false);
    clock.advance(60);
    await flush();
    expect(early.value).toBe('early');
  });

  it('keeps the last good settings when documents combine into invalid ones', async () => {
    const { source, governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'r' }, { retry: { attempts: 3 } });
    const rejected: ConfigError[] = [];
    policy.onDidReject((e) => rejected.push(e));
    source.put('defaults/policies', { retry: { backoff: { baseMs: 100 } } });
    // Valid alone (maxMs 50 >= default baseMs 25), invalid over the defaults' baseMs 100.
    source.put('resources/r', { retry: { backoff: { maxMs: 50 } } });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toBeInstanceOf(ConfigError);
    expect(rejected[0]!.path).toBe('retry.backoff.maxMs');
    expect(policy.settings.retry).toEqual({ attempts: 3, backoff: { baseMs: 100 } });
  });

  it('reports changes with the new stack; unrelated documents do not rebuild', () => {
    const { source, governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'catalog' });
    const changes: GovernedChange[] = [];
    policy.onDidChange((c) => changes.push(c));
    source.put('resources/catalog', { timeoutMs: 100, breaker: { volume: 5 } });
    source.put('resources/other', { timeoutMs: 1 });
    source.put('services/catalog/policies', { timeoutMs: 1 });
    // Same settings written again: nothing to do.
    source.put('resources/catalog', { breaker: { volume: 5 }, timeoutMs: 100 });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ resource: 'catalog', layers: ['breaker', 'timeout'] });
    expect(changes[0]!.settings).toEqual({ timeoutMs: 100, breaker: { volume: 5 } });
  });
});

describe('Governor: repetition and errors', () => {
  it('repeats a decorated resource only when idempotent (code asks for retry, or idempotent: true)', async () => {
    const { source, governor } = governorSetup();
    source.put('defaults/policies', { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } } });
    const plain = governor.policy({ kind: 'resource', name: 'create' });
    const marked = governor.policy({ kind: 'resource', name: 'get' }, { idempotent: true });
    expect(plain.layers).toEqual([]);
    expect(marked.layers).toEqual(['retry']);
    let calls = 0;
    const work = () => {
      calls++;
      return Promise.reject(new Error('flaky'));
    };
    await expect(plain.execute(work)).rejects.toThrow('flaky');
    expect(calls).toBe(1);
    calls = 0;
    await expect(marked.execute(work)).rejects.toThrow('flaky');
    expect(calls).toBe(3);
  });

  it('shows the retry attempt number to the work through inner layers', async () => {
    const { governor } = governorSetup();
    const policy = governor.policy(
      { kind: 'resource', name: 'r' },
      { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } }, breaker: {}, timeoutMs: 1000 },
    );
    const seen: number[] = [];
    const value = await policy.execute((ctx: ExecuteContext) => {
      seen.push(ctx.attempt);
      return ctx.attempt < 3 ? Promise.reject(new Error('again')) : Promise.resolve('third');
    });
    expect(value).toBe('third');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('lets hedging win over retry when both are configured', () => {
    const { governor } = governorSetup();
    const policy = governor.policy(
      { kind: 'resource', name: 'r' },
      { retry: { attempts: 3 }, hedge: { delayMs: 10 } },
    );
    expect(policy.layers).toEqual(['hedge']);
  });

  it('rejects with typed errors naming the resource', async () => {
    const { governor } = governorSetup();
    const limited = governor.policy({ kind: 'resource', name: 'search' }, { rateLimit: { perSecond: 1 } });
    await limited.execute(() => 1);
    const error = await limited.execute(() => 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ code: 'MESHLESS_RATE_LIMITED', resource: 'search', retryAfterMs: 1000 });
  });

  it('answers failures with the code fallback, policy errors included', async () => {
    const { clock, governor } = governorSetup();
    const policy = governor.policy(
      { kind: 'resource', name: 'r' },
      { timeoutMs: 10, fallback: () => 'cached' },
    );
    const call = settled(policy.execute(after(clock, 50, 'fresh')));
    clock.advance(10);
    await flush();
    expect(call.value).toBe('cached');
  });
});

describe('Governor: code values and lifecycle', () => {
  it('throws ConfigError with the field path for bad code values', () => {
    const { governor } = governorSetup();
    const cases: [object, string][] = [
      [{ timeoutMs: -1 }, 'timeoutMs'],
      [{ retry: { attempts: 0 } }, 'retry.attempts'],
      [{ retry: { backoff: { baseMs: 100, maxMs: 10 } } }, 'retry.backoff.maxMs'],
      [{ breaker: { errorPercent: 150 } }, 'breaker.errorPercent'],
      // An unknown field is named at its object, as in a rule document.
      [{ bulkhead: { maxConcurent: 3 } }, 'bulkhead'],
    ];
    for (const [options, path] of cases) {
      let error: unknown;
      try {
        governor.policy({ kind: 'resource', name: 'r' }, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'MESHLESS_INVALID_OPTION', path });
      expect((error as Error).message).toContain(`r: ${path}: `);
    }
    expect(() =>
      governor.policy({ kind: 'resource', name: 'r' }, { bulkhead: { maxConcurent: 3 } } as never),
    ).toThrow('r: bulkhead: unknown field "maxConcurent" (did you mean "maxConcurrent"?)');
  });

  it('refuses names that are not one KV key segment', () => {
    const { governor } = governorSetup();
    expect(() => governor.policy({ kind: 'resource', name: 'a/b' })).toThrow(ConfigError);
    expect(() => governor.policy({ kind: 'resource', name: '' })).toThrow(/name: expected/);
  });

  it('stops following rules after dispose, runs calls raw, and refuses new handles', async () => {
    const { source, governor } = governorSetup();
    const policy = governor.policy({ kind: 'resource', name: 'r' }, { timeoutMs: 100 });
    governor.dispose();
    source.put('resources/r', { timeoutMs: 10 });
    expect(policy.settings.timeoutMs).toBe(100);
    expect(policy.layers).toEqual([]);
    await expect(policy.execute(() => 'raw')).resolves.toBe('raw');
    expect(() => governor.policy({ kind: 'resource', name: 'r' })).toThrow(ClosedError);
  });

  it('shares one breaker between handles of one name until the last lets it go', async () => {
    const { governor } = governorSetup();
    const a = governor.policy({ kind: 'resource', name: 'shared' }, { breaker: { volume: 1 } });
    const b = governor.policy({ kind: 'resource', name: 'shared' }, { breaker: { volume: 1 } });
    expect(a.policies.breaker).toBe(b.policies.breaker);
    await expect(a.execute(failing())).rejects.toThrow('boom');
    await expect(b.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    a.dispose();
    expect(governor.breakerStatus()).toEqual([
      { kind: 'resource', resource: 'shared', endpointId: undefined, state: 'open' },
    ]);
    b.dispose();
    expect(governor.breakerStatus()).toEqual([]);
  });
});
