import { BulkheadFullError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { BulkheadPolicy } from './bulkhead-policy.ts';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Work the test finishes by hand. */
function gate<T>() {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe('BulkheadPolicy', () => {
  it('runs up to maxConcurrent calls and starts waiting callers in FIFO order', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 2, maxQueue: 3 });
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => gate<number>());
    const results = gates.map((g, i) =>
      bulkhead.execute(() => {
        started.push(i);
        return g.promise;
      }),
    );
    results[0]!.catch(() => {}); // asserted below; handled now so the rejection is not reported
    expect(started).toEqual([0, 1]);
    expect(bulkhead.active).toBe(2);
    expect(bulkhead.queued).toBe(3);
    gates[1]!.open(1);
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.fail(new Error('zero failed'));
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.open(2);
    gates[3]!.open(3);
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    gates[4]!.open(4);
    await expect(results[0]).rejects.toThrow('zero failed');
    await expect(Promise.all(results.slice(1))).resolves.toEqual([1, 2, 3, 4]);
    expect(bulkhead.active).toBe(0);
  });

  it('rejects with BulkheadFullError when the slots and the queue are full', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 1, resource: 'catalog' });
    const rejections: unknown[] = [];
    bulkhead.onDidReject((r) => rejections.push(r));
    const g = gate<string>();
    const first = bulkhead.execute(() => g.promise);
    const second = bulkhead.execute(async () => 'second');
    let ran = false;
    const third = bulkhead.execute(async () => {
      ran = true;
    });
    await expect(third).rejects.toBeInstanceOf(BulkheadFullError);
    await expect(third).rejects.toMatchObject({ code: 'MESHLESS_BULKHEAD_FULL', resource: 'catalog' });
    expect(ran).toBe(false);
    expect(rejections).toEqual([{ resource: 'catalog', active: 1, queued: 1 }]);
    g.open('first');
    await expect(first).resolves.toBe('first');
    await expect(second).resolves.toBe('second');
  });

  it('a waiting caller whose signal aborts leaves the queue; the others keep their order', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate<void>();
    const started: string[] = [];
    const run = (name: string, signal?: AbortSignal) =>
      bulkhead.execute(async () => {
        started.push(name);
      }, signal);
    const first = bulkhead.execute(() => g.promise);
    const controller = new AbortController();
    const a = run('a');
    const b = run('b', controller.signal);
    const c = run('c');
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(b).rejects.toBe(reason);
    expect(bulkhead.queued).toBe(2);
    g.open();
    await Promise.all([first, a, c]);
    expect(started).toEqual(['a', 'c']);
  });

  it('rejects a caller with an already aborted signal without queueing it', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate<void>();
    const first = bulkhead.execute(() => g.promise);
    const reason = new Error('gone');
    await expect(bulkhead.execute(async () => 1, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(bulkhead.queued).toBe(0);
    g.open();
    await first;
  });

  it('frees the slot when the work throws synchronously, and runs synchronous work', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 0 });
    await expect(
      bulkhead.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(bulkhead.execute(() => 5)).resolves.toBe(5);
    expect(bulkhead.active).toBe(0);
  });

  it('starts many queued synchronous works without recursion', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 10_000 });
    const g = gate<void>();
    const first = bulkhead.execute(() => g.promise);
    const rest = Array.from({ length: 10_000 }, (_, i) => bulkhead.execute(() => i));
    g.open();
    await first;
    const values = await Promise.all(rest);
    expect(values[9_999]).toBe(9_999);
    expect(bulkhead.active).toBe(0);
  });

  it('reconfigure: a higher limit starts waiting callers at once; running calls keep their slots', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueue: 5 });
    const gates = Array.from({ length: 3 }, () => gate<void>());
    const started: number[] = [];
    const all = gates.map((g, i) =>
      bulkhead.execute(() => {
        started.push(i);
        return g.promise;
      }),
    );
    bulkhead.reconfigure({ maxConcurrent: 3, maxQueue: 5 });
    expect(started).toEqual([0, 1, 2]);
    bulkhead.reconfigure({ maxConcurrent: 1, maxQueue: 0 });
    expect(bulkhead.active).toBe(3);
    await expect(bulkhead.execute(async () => 1)).rejects.toBeInstanceOf(BulkheadFullError);
    for (const g of gates) g.open();
    await Promise.all(all);
    await expect(bulkhead.execute(async () => 1)).resolves.toBe(1);
  });

  it('rejects bad limits with a ConfigError naming the field', () => {
    expect(() => new BulkheadPolicy({ maxConcurrent: 0 })).toThrow(
      expect.objectContaining({ code: 'MESHLESS_INVALID_OPTION', path: 'maxConcurrent' }),
    );
    expect(() => new BulkheadPolicy({ maxQueue: 1.5 })).toThrow(/maxQueue/);
    expect(new BulkheadPolicy().options).toEqual({ maxConcurrent: 100, maxQueue: 50 });
  });
});
