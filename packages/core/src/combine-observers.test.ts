import { describe, expect, it } from 'vitest';
import {
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  noopAttemptScope,
  noopCallObserver,
  noopCallScope,
} from './call-observer.ts';
import { combineObservers } from './combine-observers.ts';
import type { Endpoint } from './endpoint.ts';

const call: ClientCallInfo = {
  service: 'catalog',
  method: 'GET',
  operation: undefined,
  path: '/items/1',
  route: 'default',
  subset: undefined,
};
const endpoint: Endpoint = {
  id: 'catalog-1',
  service: 'catalog',
  address: '127.0.0.1',
  port: 8080,
  tags: [],
  meta: {},
  weight: 1,
};

/** An observer whose every scope writes `<name>:<event>` into `log`. */
function recording(name: string, log: string[]): CallObserver {
  const attempt: AttemptScope = {
    inject(headers) {
      headers[`x-${name}`] = '1';
      log.push(`${name}:inject`);
    },
    end: (status) => log.push(`${name}:attempt-end:${status}`),
  };
  const scope = (kind: string): CallScope => ({
    run(fn) {
      log.push(`${name}:run-in`);
      try {
        return fn();
      } finally {
        log.push(`${name}:run-out`);
      }
    },
    attempt: (n, ep, k) => {
      log.push(`${name}:attempt:${n}:${ep.id}:${k}`);
      return attempt;
    },
    retry: (n, reason) => log.push(`${name}:retry:${n}:${reason}`),
    hedge: (n, reason) => log.push(`${name}:hedge:${n}:${reason}`),
    rejected: (reason, action) => log.push(`${name}:rejected:${reason}:${action}`),
    mirrored: (subset, ok) => log.push(`${name}:mirrored:${subset}:${ok}`),
    end: (status, error, seconds) => log.push(`${name}:${kind}-end:${status}:${String(error)}:${seconds}`),
  });
  return { client: () => scope('client'), server: () => scope('server'), governed: () => scope('governed') };
}

/** Observes nothing, as a tracing observer does while no SDK is registered. */
const silent: CallObserver = {
  client: () => noopCallScope,
  server: () => noopCallScope,
  governed: () => noopCallScope,
};

describe('combineObservers', () => {
  it('is the constant no-op with no observers (or only no-op ones), and the observer itself with one', () => {
    expect(combineObservers([])).toBe(noopCallObserver);
    expect(combineObservers([noopCallObserver, noopCallObserver])).toBe(noopCallObserver);
    const one = recording('a', []);
    expect(combineObservers([one])).toBe(one);
    expect(combineObservers([noopCallObserver, one])).toBe(one);
  });

  it('hands out noopCallScope when every observer declines the call, and the one live scope when one observes it', () => {
    const log: string[] = [];
    const a = recording('a', log);
    const onlyServer: CallObserver = { ...silent, server: a.server };
    const combined = combineObservers([silent, onlyServer]);
    expect(combined.client(call)).toBe(noopCallScope);
    expect(combined.governed('catalog.get')).toBe(noopCallScope);
    const scope = combined.server('catalog', 'GET', '/x', {});
    scope.end(200, undefined, 0.5);
    expect(log).toEqual(['a:server-end:200:undefined:0.5']);
  });

  it('tells every live scope of a call each event, in observer order', () => {
    const log: string[] = [];
    const combined = combineObservers([recording('a', log), silent, recording('b', log)]);
    const scope = combined.client(call);
    const attempt = scope.attempt(1, endpoint, 'first');
    const headers: Record<string, string> = {};
    attempt.inject(headers);
    attempt.end(503, undefined);
    scope.retry(2, '503');
    scope.hedge(3, 'delay');
    scope.rejected('fault_abort', 'rejected');
    scope.mirrored('canary', true);
    scope.end(200, undefined, 0.25);
    expect(headers).toEqual({ 'x-a': '1', 'x-b': '1' });
    expect(log).toEqual([
      'a:attempt:1:catalog-1:first',
      'b:attempt:1:catalog-1:first',
      'a:inject',
      'b:inject',
      'a:attempt-end:503',
      'b:attempt-end:503',
      'a:retry:2:503',
      'b:retry:2:503',
      'a:hedge:3:delay',
      'b:hedge:3:delay',
      'a:rejected:fault_abort:rejected',
      'b:rejected:fault_abort:rejected',
      'a:mirrored:canary:true',
      'b:mirrored:canary:true',
      'a:client-end:200:undefined:0.25',
      'b:client-end:200:undefined:0.25',
    ]);
  });

  it('runs the work inside every scope, the first observer outermost, and returns its result', () => {
    const log: string[] = [];
    const scope = combineObservers([recording('a', log), recording('b', log)]).governed('catalog.get');
    const result = scope.run(() => {
      log.push('work');
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual(['a:run-in', 'b:run-in', 'work', 'b:run-out', 'a:run-out']);
  });

  it('drops no-op attempt scopes: noopAttemptScope when no live scope tracks attempts, the one that does otherwise', () => {
    const log: string[] = [];
    const b = recording('b', log);
    const noAttempts = (o: CallObserver): CallObserver => ({
      ...o,
      client: (c) => ({ ...o.client(c), attempt: () => noopAttemptScope }),
    });
    const none = combineObservers([noAttempts(recording('a', log)), noAttempts(b)]).client(call);
    expect(none.attempt(1, endpoint, 'first')).toBe(noopAttemptScope);
    const one = combineObservers([noAttempts(recording('a', log)), b]).client(call);
    const attempt = one.attempt(1, endpoint, 'first');
    attempt.end(200, undefined);
    expect(log).toEqual(['b:attempt:1:catalog-1:first', 'b:attempt-end:200']);
  });
});
