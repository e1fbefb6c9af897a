import { ConnectError, ConnectionResetError, TimeoutError, TransportError } from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { failureOf, toTransportError } from './transport.ts';

const ep = endpoint('catalog-1', { address: '10.0.0.7', port: 8080 });
const sys = (code: string) => Object.assign(new Error(code), { code });

describe('toTransportError', () => {
  it('types connection failures, naming service and endpoint, with the original as cause', () => {
    const refused = sys('ECONNREFUSED');
    const error = toTransportError(refused, ep, 'catalog');
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ resource: 'catalog', address: '10.0.0.7:8080', endpointId: 'catalog-1' });
    expect((error as Error).cause).toBe(refused);
    expect(failureOf(error)).toBe('connect');
    // Happy eyeballs: an AggregateError of per-address errors.
    expect(toTransportError(new AggregateError([sys('EHOSTUNREACH')]), ep, 'catalog')).toBeInstanceOf(
      ConnectError,
    );
    expect(toTransportError(sys('UND_ERR_CONNECT_TIMEOUT'), ep, 'catalog')).toBeInstanceOf(ConnectError);
    for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']) {
      const reset = toTransportError(sys(code), ep, 'catalog');
      expect(reset).toBeInstanceOf(ConnectionResetError);
      expect(failureOf(reset)).toBe('reset');
    }
    const other = toTransportError(sys('UND_ERR_HEADERS_TIMEOUT'), ep, 'catalog');
    expect(other).toBeInstanceOf(TransportError);
    expect(other).toMatchObject({ code: 'MESHLESS_TRANSPORT_ERROR', retryable: false });
    expect(failureOf(other)).toBeUndefined();
  });

  it('leaves aborts, meshless errors and programming errors as they are', () => {
    const abort = new DOMException('aborted', 'AbortError');
    expect(toTransportError(abort, ep, 'catalog')).toBe(abort);
    const timeout = new TimeoutError('catalog', 100);
    expect(toTransportError(timeout, ep, 'catalog')).toBe(timeout);
    for (const code of ['UND_ERR_ABORTED', 'UND_ERR_INVALID_ARG', 'ERR_INVALID_ARG_TYPE']) {
      const e = sys(code);
      expect(toTransportError(e, ep, 'catalog')).toBe(e);
    }
    expect(toTransportError('boom', ep, 'catalog')).toBe('boom');
  });
});
