import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isReplayable, normalizeHeaders, OutgoingRequestView, pathOf, prepareBody } from './request-view.ts';

describe('request bodies and headers', () => {
  it('sets the content-type fetch would, never over the caller’s own', async () => {
    const h1: Record<string, string> = {};
    expect(prepareBody('hi', h1)).toBe('hi');
    expect(h1['content-type']).toBe('text/plain;charset=UTF-8');
    const h2 = normalizeHeaders({ 'Content-Type': 'application/json' });
    prepareBody('{}', h2);
    expect(h2['content-type']).toBe('application/json');
    const h3: Record<string, string> = {};
    expect(prepareBody(new URLSearchParams({ a: 'b c' }), h3)).toBe('a=b+c');
    expect(h3['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    const h4: Record<string, string> = {};
    const form = new FormData();
    form.set('k', 'v');
    const encoded = (await prepareBody(form, h4)) as Uint8Array;
    expect(h4['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(new TextDecoder().decode(encoded)).toContain('name="k"');
    const h5: Record<string, string> = {};
    prepareBody(new Uint8Array(1), h5);
    prepareBody(null, h5);
    expect(h5).toEqual({});
  });

  it('knows which bodies can be sent again', () => {
    for (const body of [
      undefined,
      null,
      'x',
      new Uint8Array(1),
      new ArrayBuffer(1),
      new DataView(new ArrayBuffer(1)),
      new Blob(['x']),
    ])
      expect(isReplayable(body)).toBe(true);
    for (const body of [new ReadableStream(), Readable.from(['x'])]) expect(isReplayable(body)).toBe(false);
  });

  it('lower-cases header names from a record, pairs or a Headers, joining repeated pairs', () => {
    expect(normalizeHeaders({ 'X-A': '1', skipped: undefined as unknown as string })).toEqual({ 'x-a': '1' });
    expect(
      normalizeHeaders([
        ['X-B', '1'],
        ['x-b', '2'],
      ]),
    ).toEqual({ 'x-b': '1, 2' });
    expect(normalizeHeaders(new Headers({ 'X-C': '3' }))).toEqual({ 'x-c': '3' });
  });

  it('takes the path and query of what fetch is given; the service decides where it goes', () => {
    expect(pathOf('/items/1?x=2')).toBe('/items/1?x=2');
    expect(pathOf('items/1')).toBe('/items/1');
    expect(pathOf('')).toBe('/');
    expect(pathOf('http://catalog/items/1?x=2')).toBe('/items/1?x=2');
    expect(pathOf('https://catalog.service.consul:8443/a%20b')).toBe('/a%20b');
    expect(pathOf(new URL('http://catalog/u?q=1'))).toBe('/u?q=1');
    expect(() => pathOf(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('OutgoingRequestView: header lookups are own properties only', () => {
  it('finds no `constructor`, `toString` or `__proto__` header the caller did not send', () => {
    for (const init of [
      { accept: 'x' },
      new Headers({ accept: 'x' }),
      [['accept', 'x']] as [string, string][],
    ]) {
      const view = new OutgoingRequestView('GET', '/', normalizeHeaders(init), undefined);
      expect(view.header('accept')).toBe('x');
      for (const name of ['constructor', 'tostring', 'toString', '__proto__', 'hasownproperty']) {
        expect(view.header(name)).toBeUndefined();
      }
    }
  });

  it('keeps headers named like Object.prototype members as ordinary headers', () => {
    const headers = normalizeHeaders([
      ['Constructor', 'a'],
      ['constructor', 'b'],
      ['__proto__', 'c'],
    ]);
    const view = new OutgoingRequestView('GET', '/', headers, undefined);
    expect(view.header('constructor')).toBe('a, b');
    expect(view.header('__proto__')).toBe('c');
    expect(Object.keys(headers)).toEqual(['constructor', '__proto__']);
  });
});
