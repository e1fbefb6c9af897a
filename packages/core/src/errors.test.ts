import { describe, expect, it } from 'vitest';
import { CircuitOpenError, MeshlessError, RuleError, TimeoutError } from './errors.ts';

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
});
