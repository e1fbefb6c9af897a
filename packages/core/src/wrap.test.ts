import { describe, expect, it } from 'vitest';
import { type ExecuteContext, noopPolicy, type Policy } from './policy.ts';
import { wrap } from './wrap.ts';

/** Tries the work up to `n` times, numbering the attempts, as a retry policy does. */
function retrying(n: number): Policy {
  return {
    async execute(fn, signal) {
      let last: unknown;
      for (let attempt = 1; attempt <= n; attempt++) {
        try {
          return await fn({ signal: signal ?? new AbortController().signal, attempt });
        } catch (e) {
          last = e;
        }
      }
      throw last;
    },
  };
}

describe('wrap', () => {
  it('runs policies outermost first and hands the work the attempt number of an outer retry', async () => {
    const seen: number[] = [];
    const order: string[] = [];
    const tracing = (name: string): Policy => ({
      execute(fn, signal) {
        order.push(name);
        return noopPolicy.execute(fn, signal);
      },
    });
    const policy = wrap(tracing('outer'), retrying(3), tracing('inner'));
    const result = await policy.execute((ctx: ExecuteContext) => {
      seen.push(ctx.attempt);
      if (ctx.attempt < 3) throw new Error('fail');
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
    expect(order).toEqual(['outer', 'inner', 'inner', 'inner']);
  });

  it('passes the caller signal through and turns sync throws into rejections', async () => {
    const controller = new AbortController();
    let got: AbortSignal | undefined;
    await wrap(noopPolicy, noopPolicy).execute((ctx) => {
      got = ctx.signal;
    }, controller.signal);
    expect(got).toBe(controller.signal);
    await expect(
      wrap(noopPolicy).execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('hands the work the hedge reason of an outer hedge through inner policies', async () => {
    const hedging: Policy = {
      async execute(fn, signal) {
        await fn({ signal: signal ?? new AbortController().signal, attempt: 1 });
        return fn({ signal: signal ?? new AbortController().signal, attempt: 2, hedge: 'delay' });
      },
    };
    const passThrough: Policy = { execute: (fn, signal) => noopPolicy.execute(fn, signal) };
    const seen: Array<[number, string | undefined]> = [];
    await wrap(hedging, passThrough, passThrough).execute((ctx) => {
      seen.push([ctx.attempt, ctx.hedge]);
    });
    expect(seen).toEqual([
      [1, undefined],
      [2, 'delay'],
    ]);
  });

  it('leaves noopPolicy out and returns a single policy as it is', () => {
    const only: Policy = { execute: (fn, signal) => noopPolicy.execute(fn, signal) };
    expect(wrap()).toBe(noopPolicy);
    expect(wrap(noopPolicy, only, noopPolicy)).toBe(only);
  });
});
