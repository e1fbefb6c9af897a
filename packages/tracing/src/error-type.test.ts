import { CircuitOpenError, TimeoutError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { errorTypeOf } from './error-type.ts';

describe('errorTypeOf', () => {
  it('uses the stable code of meshless errors', () => {
    expect(errorTypeOf(new TimeoutError('catalog', 100))).toBe('MESHLESS_TIMEOUT');
    expect(errorTypeOf(new CircuitOpenError('catalog'))).toBe('MESHLESS_CIRCUIT_OPEN');
  });

  it('uses a Node or undici error code, else the class name, else _OTHER', () => {
    expect(errorTypeOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorTypeOf(new TypeError('bad'))).toBe('TypeError');
    expect(errorTypeOf(new DOMException('stop', 'AbortError'))).toBe('AbortError');
    expect(errorTypeOf('a string')).toBe('_OTHER');
    expect(errorTypeOf(undefined)).toBe('_OTHER');
  });
});
