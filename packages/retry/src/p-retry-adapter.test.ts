import { describe, expect, it } from 'vitest';
import { retryLoop } from './p-retry-adapter.ts';

describe('retryLoop (p-retry)', () => {
  it('numbers attempts first..last and asks before each retry', async () => {
    const seen: number[] = [];
    const asked: [unknown, number][] = [];
    const failure = new Error('nope');
    await expect(
      retryLoop(
        async (n) => {
          seen.push(n);
          throw failure;
        },
        2,
        4,
        (f, next) => {
          asked.push([f, next]);
          return true;
        },
        undefined,
      ),
    ).rejects.toBe(failure);
    expect(seen).toEqual([2, 3, 4]);
    expect(asked).toEqual([
      [failure, 3],
      [failure, 4],
    ]);
  });

  it('retries TypeErrors and non-Error throws, which p-retry alone refuses, and returns what they threw', async () => {
    const thrown: unknown[] = [new TypeError('x is undefined'), 'a string'];
    let i = 0;
    const result = await retryLoop(
      async () => {
        if (i < thrown.length) throw thrown[i++];
        return 'ok';
      },
      1,
      3,
      () => true,
      undefined,
    );
    expect(result).toBe('ok');
    await expect(
      retryLoop(
        async () => {
          throw 'plain';
        },
        1,
        2,
        () => true,
        undefined,
      ),
    ).rejects.toBe('plain');
  });

  it('stops when beforeRetry says no, and on the caller’s abort', async () => {
    let calls = 0;
    const failure = new Error('stop here');
    await expect(
      retryLoop(
        async () => {
          calls++;
          throw failure;
        },
        1,
        5,
        () => false,
        undefined,
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);

    const controller = new AbortController();
    const reason = new Error('aborted');
    await expect(
      retryLoop(
        async () => {
          controller.abort(reason);
          throw new Error('failed');
        },
        1,
        5,
        () => true,
        controller.signal,
      ),
    ).rejects.toBe(reason);
  });
});
