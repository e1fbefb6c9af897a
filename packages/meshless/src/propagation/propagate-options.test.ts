import { ConfigError, parseOrThrow } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { meshOptionsSchema } from '../mesh-options.ts';
import { MAX_PROPAGATED_HEADERS } from './propagate-options.ts';

function rejected(propagate: unknown): ConfigError {
  try {
    parseOrThrow(meshOptionsSchema, { propagate });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('accepted');
}

describe('the propagate option', () => {
  it('accepts HTTP token names, in any case, up to the limit', () => {
    const names = Array.from({ length: MAX_PROPAGATED_HEADERS }, (_, i) => `X-Tenant-${i}`);
    expect(parseOrThrow(meshOptionsSchema, { propagate: { headers: names } }).propagate?.headers).toEqual(
      names,
    );
    expect(parseOrThrow(meshOptionsSchema, { propagate: { headers: [] } }).propagate?.headers).toEqual([]);
  });

  it('rejects what is not a header name, with the field path', () => {
    expect(rejected({ headers: ['x-user-id', 'x user'] })).toMatchObject({
      path: 'propagate.headers[1]',
      code: 'MESHLESS_INVALID_OPTION',
    });
    expect(rejected({ headers: ['x-user-id:'] })).toMatchObject({ path: 'propagate.headers[0]' });
    expect(rejected({ headers: [''] })).toMatchObject({ path: 'propagate.headers[0]' });
    expect(rejected({ headers: [42] })).toMatchObject({ path: 'propagate.headers[0]' });
    expect(rejected({ headers: ['x'.repeat(129)] })).toMatchObject({ path: 'propagate.headers[0]' });
    expect(rejected({ headers: 'x-user-id' })).toMatchObject({ path: 'propagate.headers' });
    expect(rejected(['x-user-id'])).toMatchObject({ path: 'propagate' });
    expect(rejected({ headers: ['x-user-id'], header: [] }).message).toContain('unknown field "header"');
  });

  it('rejects more than the limit, and the headers of one connection or of the mesh', () => {
    const names = Array.from({ length: MAX_PROPAGATED_HEADERS + 1 }, (_, i) => `x-h${i}`);
    expect(rejected({ headers: names })).toMatchObject({ path: 'propagate.headers' });
    for (const name of ['Content-Length', 'host', 'transfer-encoding', 'connection', 'x-meshless-caller']) {
      const error = rejected({ headers: ['x-user-id', name] });
      expect(error).toMatchObject({ path: 'propagate.headers[1]' });
      expect(error.message).toContain('never propagated');
    }
  });
});
