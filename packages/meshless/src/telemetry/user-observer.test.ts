import type { RouteDecision } from '@meshless/canary';
import {
  type ClientCallInfo,
  type Endpoint,
  type LogFields,
  noopCallObserver,
  noopCallScope,
} from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { userObserver } from './user-observer.ts';

const decision: RouteDecision = Object.freeze({
  route: { name: 'canary-users', index: 0, timeoutMs: 500, retry: undefined, destinations: [] },
  subset: 'canary',
  fallback: false,
  available: true,
});
const call = (over: Partial<ClientCallInfo & { decision: RouteDecision }> = {}) => ({
  service: 'catalog',
  method: 'GET',
  operation: undefined,
  path: '/items/1',
  route: 'canary-users',
  subset: 'canary',
  decision,
  ...over,
});
const logs: { message: string; fields: LogFields | undefined }[] = [];
const logger = {
  debug() {},
  info() {},
  warn() {},
  error: (message: string, fields?: LogFields) => logs.push({ message, fields }),
};

describe('userObserver', () => {
  it('is the constant no-op without hooks, and observes only the kinds of call that have one', () => {
    expect(userObserver({}, logger)).toBe(noopCallObserver);
    expect(userObserver({ client: {}, inbound: {} }, logger)).toBe(noopCallObserver);
    const inboundOnly = userObserver({ inbound: { onShed() {} } }, logger);
    expect(inboundOnly.client(call())).toBe(noopCallScope);
    expect(inboundOnly.governed('r')).toBe(noopCallScope);
    expect(inboundOnly.server('shop', 'GET', '/', {})).not.toBe(noopCallScope);
  });

  it('calls onAttempt, onMirror and onResult with what they took before the seam (the route decision included)', () => {
    const seen: unknown[][] = [];
    const o = userObserver(
      {
        client: {
          onAttempt: (service: string, ep: Endpoint, attempt: number) =>
            seen.push(['attempt', service, ep.id, attempt]),
          onMirror: (service, subset, ok) => seen.push(['mirror', service, subset, ok]),
          onResult: (service, d, status, error, seconds) =>
            seen.push(['result', service, d, status, error, seconds]),
        },
      },
      logger,
    );
    const scope = o.client(call());
    scope.attempt(1, endpoint('catalog-1'), 'first');
    scope.attempt(2, endpoint('catalog-2'), 'retry');
    scope.end(200, undefined, 0.5);
    scope.mirrored('shadow', true);
    expect(seen).toEqual([
      ['attempt', 'catalog', 'catalog-1', 1],
      ['attempt', 'catalog', 'catalog-2', 2],
      ['result', 'catalog', decision, 200, undefined, 0.5],
      ['mirror', 'catalog', 'shadow', true],
    ]);
    // Prepared per decision: another call on the same route and subset gets the same scope.
    expect(o.client(call({ path: '/items/2' }))).toBe(scope);
    expect(o.client(call({ service: 'orders' }))).not.toBe(scope);
  });

  it('calls onShed and onHandled with the method as it came', () => {
    const seen: unknown[][] = [];
    const o = userObserver(
      {
        inbound: {
          onShed: (reason) => seen.push(['shed', reason]),
          onHandled: (method, status, seconds) => seen.push(['handled', method, status, seconds]),
        },
      },
      logger,
    );
    const scope = o.server('shop', 'POST', '/orders', {});
    scope.rejected('rate_limited', 'shed');
    scope.end(429, undefined, 0.001);
    o.server('shop', 'BREW', '/', {}).end(501, undefined, 0.002);
    expect(seen).toEqual([
      ['shed', 'rate_limited'],
      ['handled', 'POST', 429, 0.001],
      ['handled', 'BREW', 501, 0.002],
    ]);
  });

  it('keeps a throwing hook away from the call and logs it once', () => {
    logs.length = 0;
    const o = userObserver(
      {
        client: {
          onResult() {
            throw new Error('hook bug');
          },
        },
      },
      logger,
    );
    expect(() => o.client(call()).end(200, undefined, 0.1)).not.toThrow();
    expect(() => o.client(call()).end(200, undefined, 0.1)).not.toThrow();
    expect(logs).toHaveLength(1);
    expect(logs[0]!.message).toContain('onResult');
    expect(logs[0]!.fields).toMatchObject({ error: expect.objectContaining({ message: 'hook bug' }) });
  });
});
