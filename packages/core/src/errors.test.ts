import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  ConnectError,
  ConnectionResetError,
  MeshlessError,
  RuleError,
  TimeoutError,
  TransportError,
} from './errors.ts';

describe('errors', () => {
  it('carry stable codes, retryability, resource and cause', () => {
    const cause = new Error('boom');
    const err = new CircuitOpenError('catalog.getItem', { cause });
    expect(err.code).toBe('MESHLESS_CIRCUIT_OPEN');
    expect(err.resource).toBe('catalog.getItem');
    expect(err.retryable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('CircuitOpenError');
    expect(new TimeoutError('r', 5).message).toBe('r timed out after 5 ms');
  });

  it('are recognised across duplicate installs by brand, not by prototype', () => {
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('meshless.error')]: true,
      code: 'MESHLESS_X',
    });
    expect(MeshlessError.isInstance(foreign)).toBe(true);
    expect(MeshlessError.isInstance(new Error('x'))).toBe(false);
    expect(MeshlessError.isInstance(new RuleError('bad', { key: 'k', path: 'a.b' }))).toBe(true);
    expect(MeshlessError.isInstance(null)).toBe(false);
  });

  it('name the endpoint and keep the system error of a failed connection', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const err = new ConnectError('catalog', { cause, address: '127.0.0.1:9', endpointId: 'catalog-1' });
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({
      code: 'MESHLESS_CONNECT_ERROR',
      retryable: true,
      resource: 'catalog',
      address: '127.0.0.1:9',
      endpointId: 'catalog-1',
      cause,
    });
    expect(err.message).toBe('cannot connect to catalog at 127.0.0.1:9 (ECONNREFUSED)');
    const reset = new ConnectionResetError('catalog', { address: '127.0.0.1:9' });
    expect(reset.code).toBe('MESHLESS_CONNECTION_RESET');
    expect(reset.message).toBe('connection to catalog at 127.0.0.1:9 reset');
    expect(MeshlessError.isInstance(reset)).toBe(true);
  });
});
