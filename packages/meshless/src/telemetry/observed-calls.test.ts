import { type CallObserver, type CallScope, noopCallObserver, noopCallScope } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { observedCalls } from './observed-calls.ts';

/** Records the governed scopes it hands out; `run` marks the work as inside the scope. */
function recording(log: unknown[][]): CallObserver {
  return {
    client: () => noopCallScope,
    server: () => noopCallScope,
    governed(resource: string): CallScope {
      return {
        ...noopCallScope,
        run<T>(fn: () => T): T {
          log.push(['run', resource]);
          return fn();
        },
        end: (status, error, seconds) => log.push(['end', resource, status, error, seconds]),
      };
    },
  };
}

describe('observedCalls', () => {
  it('is undefined when nothing observes, so decorated calls run bare', () => {
    expect(observedCalls(noopCallObserver, new ManualClock())).toBeUndefined();
  });

  it('runs each call inside one governed scope and ends it with the outcome and the seconds it took', async () => {
    const clock = new ManualClock();
    const log: unknown[][] = [];
    const instrument = observedCalls(recording(log), clock)!;
    const ok = instrument.call('catalog.getItem', async () => {
      clock.advance(250);
      return 7;
    });
    await expect(ok).resolves.toBe(7);
    const error = new Error('down');
    const failed = instrument.call('catalog.getItem', async () => {
      clock.advance(50);
      throw error;
    });
    await expect(failed).rejects.toBe(error);
    expect(log).toEqual([
      ['run', 'catalog.getItem'],
      ['end', 'catalog.getItem', undefined, undefined, 0.25],
      ['run', 'catalog.getItem'],
      ['end', 'catalog.getItem', undefined, error, 0.05],
    ]);
  });

  it('hands back the work itself for a call that nobody observes', async () => {
    const silent: CallObserver = { ...recording([]), governed: () => noopCallScope };
    const instrument = observedCalls(silent, new ManualClock())!;
    const promise = Promise.resolve(1);
    expect(instrument.call('r', () => promise)).toBe(promise);
  });
});
