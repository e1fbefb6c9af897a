import { describe, expect, it } from 'vitest';
import { hashKeyExtractor } from './hash-key.ts';

describe('hashKeyExtractor', () => {
  it('reads a header from fetch Headers or node:http headers, case-insensitively', () => {
    const get = hashKeyExtractor({ header: 'X-User-Id' });
    expect(get({ headers: new Headers({ 'x-user-id': 'u1' }) })).toBe('u1');
    expect(get({ headers: { 'x-user-id': 'u2' } })).toBe('u2');
    expect(get({ headers: { 'X-User-ID': 'u3' } })).toBe('u3');
    expect(get({ headers: { 'x-user-id': ['u4', 'u5'] } })).toBe('u4, u5');
    expect(get({ headers: {} })).toBeUndefined();
    expect(get({})).toBeUndefined();
  });

  it('reads a cookie', () => {
    const get = hashKeyExtractor({ cookie: 'sid' });
    expect(get({ headers: { cookie: 'a=1; sid=abc%20d; b=2' } })).toBe('abc d');
    expect(get({ headers: { cookie: 'sid="q"' } })).toBe('q');
    expect(get({ headers: { cookie: 'xsid=1' } })).toBeUndefined();
  });

  it('reads a query parameter', () => {
    const get = hashKeyExtractor({ queryParam: 'tenant' });
    expect(get({ url: '/items?x=1&tenant=acme+corp#top' })).toBe('acme corp');
    expect(get({ url: 'http://h/p?tenant=%E2%9C%93' })).toBe('✓');
    expect(get({ url: '/items?tenant' })).toBe('');
    expect(get({ url: '/items' })).toBeUndefined();
  });

  it('gives undefined without hashOn', () => {
    expect(hashKeyExtractor(undefined)({ headers: { a: 'b' } })).toBeUndefined();
  });
});

describe('hashKeyExtractor: own properties only', () => {
  it('hashes on a header named `constructor` only when the request has one', () => {
    const get = hashKeyExtractor({ header: 'constructor' });
    expect(get({ headers: { accept: 'x' } })).toBeUndefined();
    expect(get({ headers: { Constructor: 'u1' } })).toBe('u1');
    expect(get({ headers: new Headers({ accept: 'x' }) })).toBeUndefined();
    expect(hashKeyExtractor({ header: 'toString' })({ headers: {} })).toBeUndefined();
  });
});
