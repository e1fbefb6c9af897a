import { describe, expect, it } from 'vitest';
import { compileMatch, matchesRequest, type RouteRequest } from './route-match.ts';
import type { RouteMatch } from './routes-schema.ts';

function request(fields: Partial<Omit<RouteRequest, 'header'>> & { headers?: Record<string, string> } = {}) {
  const headers = fields.headers ?? {};
  return {
    method: fields.method ?? 'GET',
    path: fields.path ?? '/',
    query: fields.query,
    caller: fields.caller,
    header: (name: string) => headers[name],
  } satisfies RouteRequest;
}

function matches(match: RouteMatch, req: RouteRequest): boolean {
  const compiled = compileMatch(match);
  if (compiled === undefined) throw new Error('catch-all');
  return matchesRequest(compiled, req);
}

describe('route match', () => {
  it('matches headers by exact, prefix, regex and presence, names case-insensitive', () => {
    const beta = request({ headers: { 'x-user-group': 'beta-eu' } });
    expect(matches({ headers: { 'X-User-Group': { exact: 'beta-eu' } } }, beta)).toBe(true);
    expect(matches({ headers: { 'x-user-group': { exact: 'beta' } } }, beta)).toBe(false);
    expect(matches({ headers: { 'x-user-group': { prefix: 'beta' } } }, beta)).toBe(true);
    expect(matches({ headers: { 'x-user-group': { regex: 'beta-(eu|us)' } } }, beta)).toBe(true);
    // Regexes match the whole value, as in Istio.
    expect(matches({ headers: { 'x-user-group': { regex: 'beta' } } }, beta)).toBe(false);
    expect(matches({ headers: { 'x-user-group': { present: true } } }, beta)).toBe(true);
    expect(matches({ headers: { 'x-user-group': { present: false } } }, beta)).toBe(false);
    expect(matches({ headers: { 'x-debug': { present: false } } }, beta)).toBe(true);
    expect(matches({ headers: { 'x-debug': { exact: '' } } }, beta)).toBe(false);
  });

  it('matches the path without its query string', () => {
    const req = request({ path: '/items/42?expand=1' });
    expect(matches({ path: { exact: '/items/42' } }, req)).toBe(true);
    expect(matches({ path: { prefix: '/items/' } }, req)).toBe(true);
    expect(matches({ path: { regex: '/items/\\d+' } }, req)).toBe(true);
    expect(matches({ path: { prefix: '/orders' } }, req)).toBe(false);
  });

  it('matches one method or several, ignoring case', () => {
    expect(matches({ method: 'GET' }, request({ method: 'GET' }))).toBe(true);
    expect(matches({ method: 'get' }, request({ method: 'GET' }))).toBe(true);
    expect(matches({ method: ['GET', 'HEAD'] }, request({ method: 'head' }))).toBe(true);
    expect(matches({ method: ['GET', 'HEAD'] }, request({ method: 'POST' }))).toBe(false);
  });

  it('matches query parameters, parsed or taken from the path', () => {
    const match: RouteMatch = { query: { preview: { exact: '1' }, debug: { present: false } } };
    expect(matches(match, request({ path: '/a', query: new URLSearchParams('preview=1') }))).toBe(true);
    expect(matches(match, request({ path: '/a?preview=1' }))).toBe(true);
    expect(matches(match, request({ path: '/a?preview=1&debug' }))).toBe(false);
    expect(matches(match, request({ path: '/a' }))).toBe(false);
  });

  it('matches the caller, and refuses requests without one', () => {
    expect(matches({ caller: 'gateway' }, request({ caller: 'gateway' }))).toBe(true);
    expect(matches({ caller: ['gateway', 'admin'] }, request({ caller: 'admin' }))).toBe(true);
    expect(matches({ caller: 'gateway' }, request({ caller: 'orders' }))).toBe(false);
    expect(matches({ caller: 'gateway' }, request())).toBe(false);
  });

  it('requires every condition', () => {
    const match: RouteMatch = {
      method: 'GET',
      path: { prefix: '/items' },
      headers: { 'x-beta': { present: true } },
    };
    expect(matches(match, request({ path: '/items/1', headers: { 'x-beta': '1' } }))).toBe(true);
    expect(matches(match, request({ path: '/items/1' }))).toBe(false);
    expect(matches(match, request({ method: 'POST', path: '/items/1', headers: { 'x-beta': '1' } }))).toBe(
      false,
    );
  });

  it('compiles a match without conditions to a catch-all', () => {
    expect(compileMatch(undefined)).toBeUndefined();
    expect(compileMatch({})).toBeUndefined();
    expect(compileMatch({ headers: {} })).toBeUndefined();
  });
});
