import { type LogFields, noopCallObserver, noopCallScope, noopLogger } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { inboundHooksObserver } from './inbound-observer.ts';

describe('inboundHooksObserver', () => {
  it('is the constant no-op without hooks, and observes inbound requests only', () => {
    expect(inboundHooksObserver({}, noopLogger)).toBe(noopCallObserver);
    expect(inboundHooksObserver(undefined, noopLogger)).toBe(noopCallObserver);
    const o = inboundHooksObserver({ onShed() {} }, noopLogger);
    expect(
      o.client({
        service: 'c',
        method: 'GET',
        operation: undefined,
        path: '/',
        route: 'r',
        subset: undefined,
      }),
    ).toBe(noopCallScope);
    expect(o.governed('r')).toBe(noopCallScope);
    expect(o.server('shop', 'GET', '/', {})).not.toBe(noopCallScope);
  });

  it('calls onShed and onHandled with the method as it came, one prepared scope per known method', () => {
    const seen: unknown[][] = [];
    const o = inboundHooksObserver(
      {
        onShed: (reason) => seen.push(['shed', reason]),
        onHandled: (method, status, seconds) => seen.push(['handled', method, status, seconds]),
      },
      noopLogger,
    );
    const scope = o.server('shop', 'POST', '/orders', {});
    expect(o.server('shop', 'POST', '/other', {})).toBe(scope);
    scope.rejected('rate_limited', 'shed');
    scope.end(429, undefined, 0.001);
    o.server('shop', 'BREW', '/', {}).end(501, undefined, 0.002);
    expect(seen).toEqual([
      ['shed', 'rate_limited'],
      ['handled', 'POST', 429, 0.001],
      ['handled', 'BREW', 501, 0.002],
    ]);
  });

  it('keeps a throwing hook away from the request and logs it once', () => {
    const warnings: { message: string; fields: LogFields | undefined }[] = [];
    const logger = {
      ...noopLogger,
      warn: (message: string, fields?: LogFields) => warnings.push({ message, fields }),
    };
    const error = new Error('hook bug');
    const o = inboundHooksObserver(
      {
        onHandled() {
          throw error;
        },
      },
      logger,
    );
    expect(() => o.server('shop', 'GET', '/', {}).end(200, undefined, 0.1)).not.toThrow();
    expect(() => o.server('shop', 'GET', '/', {}).end(200, undefined, 0.1)).not.toThrow();
    expect(warnings).toEqual([
      { message: 'observer hook threw; its errors are ignored', fields: { hook: 'onHandled', error } },
    ]);
  });
});
