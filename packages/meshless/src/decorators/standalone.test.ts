import { BulkheadFullError, CircuitOpenError, RateLimitedError, RuleStore } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Governor } from '../governance/governor.ts';
import { flush, settled } from '../governance/test-support.ts';
import { localGovernor, setLocalGovernor } from './local-governor.ts';
import type { GovernedMethodDecorator } from './method-decorator.ts';
import { bulkhead, circuitBreaker, fallback, rateLimit, retry } from './standalone.ts';

/** Decorates `run` of a fresh class (experimentalDecorators style) and returns an instance. */
function decorated<T>(
  body: () => Promise<T>,
  ...decorators: GovernedMethodDecorator[]
): { run(): Promise<T> } {
  class Subject {
    run(): Promise<T> {
      return body();
    }
  }
  const proto = Subject.prototype;
  let descriptor = Object.getOwnPropertyDescriptor(proto, 'run')!;
  for (const d of [...decorators].reverse()) {
    descriptor = (d as unknown as (t: object, k: string, x: PropertyDescriptor) => PropertyDescriptor)(
      proto,
      'run',
      descriptor,
    );
  }
  Object.defineProperty(proto, 'run', descriptor);
  return new Subject();
}

let clock: ManualClock;
beforeEach(() => {
  clock = new ManualClock();
  setLocalGovernor(new Governor({ rules: new RuleStore({ prefix: 'local', sections: [] }), clock }));
});
afterEach(() => setLocalGovernor(undefined));

describe('standalone decorators', () => {
  it('@retry() makes 3 attempts by default', async () => {
    let calls = 0;
    const s = decorated(
      () => {
        calls++;
        return Promise.reject(new Error('nope'));
      },
      retry({ backoff: { baseMs: 0, maxMs: 0 } }),
    );
    await expect(s.run()).rejects.toThrow('nope');
    expect(calls).toBe(3);
  });

  it('@circuitBreaker opens after the configured failures', async () => {
    const s = decorated(() => Promise.reject(new Error('down')), circuitBreaker({ volume: 2 }));
    await expect(s.run()).rejects.toThrow('down');
    await expect(s.run()).rejects.toThrow('down');
    await expect(s.run()).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('@bulkhead turns callers away beyond its limit and queue', async () => {
    const s = decorated(
      () => new Promise<string>((resolve) => clock.setTimeout(() => resolve('done'), 10)),
      bulkhead({ maxConcurrent: 1, maxQueue: 1 }),
    );
    const first = settled(s.run());
    const queued = settled(s.run());
    await expect(s.run()).rejects.toBeInstanceOf(BulkheadFullError);
    clock.advance(10);
    await flush();
    clock.advance(10);
    await flush();
    expect([first.value, queued.value]).toEqual(['done', 'done']);
  });

  it('@rateLimit rejects over its burst with retryAfterMs', async () => {
    const s = decorated(() => Promise.resolve(1), rateLimit({ perSecond: 2, burst: 1 }));
    await s.run();
    await expect(s.run()).rejects.toMatchObject({ constructor: RateLimitedError, retryAfterMs: 500 });
    clock.advance(500);
    await expect(s.run()).resolves.toBe(1);
  });

  it('@fallback calls a function fallback with the failure; on: meshless lets the method errors through', async () => {
    const cause = new Error('db');
    const all = decorated(
      () => Promise.reject(cause),
      fallback((e: unknown) => `fallback for ${(e as Error).message}`),
    );
    await expect(all.run()).resolves.toBe('fallback for db');
    const meshlessOnly = decorated(
      () => Promise.reject(cause),
      fallback('x', { on: 'meshless' }),
      circuitBreaker({ volume: 1 }),
    );
    await expect(meshlessOnly.run()).rejects.toBe(cause);
    await expect(meshlessOnly.run()).resolves.toBe('x');
  });

  it('use a default local governor when none was set', async () => {
    setLocalGovernor(undefined);
    expect(localGovernor()).toBe(localGovernor());
    const s = decorated(() => Promise.resolve('plain'), retry());
    await expect(s.run()).resolves.toBe('plain');
  });
});
