import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { headerGetter, headerSetter } from './header-carrier.ts';

describe('headerSetter', () => {
  it('sets a key on a plain object (undici / node:http headers)', () => {
    const headers: Record<string, string> = { accept: 'application/json' };
    headerSetter.set(headers, 'traceparent', 'v');
    expect(headers).toEqual({ accept: 'application/json', traceparent: 'v' });
  });

  it('appends a pair to an array of pairs, and to an empty array', () => {
    const pairs: [string, string][] = [['accept', '*/*']];
    headerSetter.set(pairs, 'traceparent', 'v');
    expect(pairs).toEqual([
      ['accept', '*/*'],
      ['traceparent', 'v'],
    ]);
    const empty: [string, string][] = [];
    headerSetter.set(empty, 'traceparent', 'v');
    expect(empty).toEqual([['traceparent', 'v']]);
  });

  it("appends name and value to undici's flat array", () => {
    const flat = ['accept', '*/*'];
    headerSetter.set(flat, 'traceparent', 'v');
    expect(flat).toEqual(['accept', '*/*', 'traceparent', 'v']);
  });

  it('calls set() on a WHATWG Headers', () => {
    const headers = new Headers({ accept: '*/*' });
    headerSetter.set(headers, 'traceparent', 'v');
    expect(headers.get('traceparent')).toBe('v');
  });
});

describe('headerGetter', () => {
  it('reads IncomingHttpHeaders, arrays included, and lists their keys', () => {
    const headers: IncomingHttpHeaders = {
      traceparent: 'tp',
      baggage: ['a=1', 'b=2'],
      get: 'a header named get',
    };
    expect(headerGetter.get(headers, 'traceparent')).toBe('tp');
    expect(headerGetter.get(headers, 'baggage')).toEqual(['a=1', 'b=2']);
    expect(headerGetter.get(headers, 'tracestate')).toBeUndefined();
    expect(headerGetter.keys(headers)).toEqual(['traceparent', 'baggage', 'get']);
  });

  it('reads a WHATWG Headers case-insensitively', () => {
    const headers = new Headers({ TraceParent: 'tp' });
    expect(headerGetter.get(headers, 'traceparent')).toBe('tp');
    expect(headerGetter.get(headers, 'tracestate')).toBeUndefined();
    expect(headerGetter.keys(headers)).toEqual(['traceparent']);
  });
});
