import type { ExecuteContext, Policy } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { PreparedStack } from './prepared-stack.ts';

/** A policy that logs entry and exit, and runs the work `times` times in a row (a toy retry). */
function tracer(name: string, log: string[], times = 1): Policy {
  return {
    async execute(fn, signal) {
      log.push(`${name}>`);
      let last: unknown;
      for (let attempt = 1; attempt <= times; attempt++) {
        last = await fn({ signal: signal ?? new AbortController().signal, attempt });
      }
      log.push(`<${name}`);
      return last as never;
    },
  };
}

describe('PreparedStack', () => {
  it('runs the policies outermost first', async () => {
    const log: string[] = [];
    const stack = new PreparedStack([tracer('a', log), tracer('b', log), tracer('c', log)]);
    const work = () => {
      log.push('work');
      return 7;
    };
    await expect(stack.execute(work)).resolves.toBe(7);
    expect(log).toEqual(['a>', 'b>', 'c>', 'work', '<c', '<b', '<a']);
  });

  it('shows the work the attempt number of an outer repeating policy, through inner ones', async () => {
    const log: string[] = [];
    const stack = new PreparedStack([
      tracer('retry', log, 3),
      tracer('breaker', log),
      tracer('timeout', log),
    ]);
    const attempts: number[] = [];
    await stack.execute((ctx: ExecuteContext) => attempts.push(ctx.attempt));
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('passes the innermost policy the work itself on a first attempt', async () => {
    let received: unknown;
    const inner: Policy = {
      execute(fn) {
        received = fn;
        return Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 }));
      },
    };
    const work = () => 1;
    await new PreparedStack([inner]).execute(work);
    expect(received).toBe(work);
  });

  it('with no policy, runs the work and turns a synchronous throw into a rejection', async () => {
    const stack = new PreparedStack([]);
    expect(stack.empty).toBe(true);
    await expect(stack.execute(() => 'raw')).resolves.toBe('raw');
    const error = new Error('sync');
    const p = stack.execute(() => {
      throw error;
    });
    await expect(p).rejects.toBe(error);
  });

  it('hands the caller signal to the outermost policy', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const stack = new PreparedStack([
      {
        execute(fn, signal) {
          seen = signal;
          return Promise.resolve(fn({ signal: signal!, attempt: 1 }));
        },
      },
    ]);
    await stack.execute(() => 1, controller.signal);
    expect(seen).toBe(controller.signal);
  });
});
