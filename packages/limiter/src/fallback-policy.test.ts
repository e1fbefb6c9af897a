import { CircuitOpenError, TimeoutError, wrap } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { FallbackPolicy } from './fallback-policy.ts';
import { TimeoutPolicy } from './timeout-policy.ts';

const boom = new Error('boom');
const failing = async () => {
  throw boom;
};

describe('FallbackPolicy', () => {
  it('answers any failure with the value by default', async () => {
    const policy = new FallbackPolicy({ fallback: 'cached' });
    await expect(policy.execute(failing)).resolves.toBe('cached');
    await expect(policy.execute(async () => 'live')).resolves.toBe('live');
  });

  it('hands the cause to a fallback function, sync or async', async () => {
    const causes: unknown[] = [];
    const policy = new FallbackPolicy({
      fallback: async (cause: unknown) => {
        causes.push(cause);
        return 'from fallback';
      },
    });
    await expect(policy.execute(failing)).resolves.toBe('from fallback');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).resolves.toBe('from fallback');
    expect(causes).toEqual([boom, boom]);
  });

  it("with on: 'meshless' answers only MeshlessErrors", async () => {
    const policy = new FallbackPolicy({ fallback: null, on: 'meshless' });
    await expect(policy.execute(failing)).rejects.toBe(boom);
    await expect(policy.execute(() => Promise.reject(new CircuitOpenError('catalog')))).resolves.toBeNull();
  });

  it('rejects with the fallback function error when it throws', async () => {
    const policy = new FallbackPolicy({
      fallback: () => {
        throw new Error('fallback broke');
      },
    });
    await expect(policy.execute(failing)).rejects.toThrow('fallback broke');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).rejects.toThrow('fallback broke');
  });

  it('gives the error, not a value, to a caller whose own signal aborted', async () => {
    const policy = new FallbackPolicy({ fallback: 'x' });
    const controller = new AbortController();
    const p = policy.execute(async () => {
      controller.abort();
      throw boom;
    }, controller.signal);
    await expect(p).rejects.toBe(boom);
  });

  it('reports each use with its cause', async () => {
    const policy = new FallbackPolicy({ fallback: 0, resource: 'catalog.getItem' });
    const events: unknown[] = [];
    policy.onDidFallback((e) => events.push(e));
    await policy.execute(failing);
    expect(events).toEqual([{ resource: 'catalog.getItem', cause: boom }]);
  });

  it('outermost in a stack, receives the TimeoutError of an inner timeout as the cause', async () => {
    const clock = new ManualClock();
    let cause: unknown;
    const stack = wrap(
      new FallbackPolicy({
        fallback: (c: unknown) => {
          cause = c;
          return 'stale';
        },
      }),
      new TimeoutPolicy({ timeoutMs: 50, clock, resource: 'catalog' }),
    );
    const p = stack.execute(() => new Promise<string>(() => {}));
    clock.advance(50);
    await expect(p).resolves.toBe('stale');
    expect(cause).toBeInstanceOf(TimeoutError);
    expect(cause).toMatchObject({ resource: 'catalog', timeoutMs: 50 });
  });
});
