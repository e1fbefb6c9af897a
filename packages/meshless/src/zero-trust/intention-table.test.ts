import { describe, expect, it } from 'vitest';
import { type AuthzRequest, IntentionTable } from './intention-table.ts';
import type { HttpPermission, Intention, IntentionPermission } from './intention-types.ts';

let ids = 0;
function l4(source: string, action: 'allow' | 'deny', precedence = source === '*' ? 8 : 9): Intention {
  return Object.freeze({
    id: `i${++ids}`,
    source,
    action,
    permissions: undefined,
    precedence,
    description: '',
  });
}
function l7(
  source: string,
  permissions: IntentionPermission[],
  precedence = source === '*' ? 8 : 9,
): Intention {
  return Object.freeze({
    id: `i${++ids}`,
    source,
    action: undefined,
    permissions,
    precedence,
    description: '',
  });
}
function req(path = '/', method = 'GET', headers: AuthzRequest['headers'] = {}): AuthzRequest {
  return { method, path, headers };
}

describe('IntentionTable L4', () => {
  it('decides by the exact source, returning the same frozen decision every time', () => {
    const allowWeb = l4('web', 'allow');
    const table = IntentionTable.build([allowWeb, l4('batch', 'deny')], false);
    const d = table.decide('web', req());
    expect(d).toEqual({ allowed: true, intention: allowWeb, permission: undefined });
    expect(Object.isFrozen(d)).toBe(true);
    expect(table.decide('web', req('/other', 'POST'))).toBe(d);
    expect(table.decide('batch', req()).allowed).toBe(false);
    expect(table.size).toBe(2);
    expect(table.problems).toEqual([]);
  });

  it("applies '*' to sources without their own intention, and the default when none applies", () => {
    const any = l4('*', 'allow');
    const table = IntentionTable.build([l4('web', 'deny'), any], false);
    expect(table.decide('web', req()).allowed).toBe(false);
    expect(table.decide('billing', req())).toMatchObject({ allowed: true, intention: any });
    const none = IntentionTable.build([l4('web', 'allow')], false);
    expect(none.decide('billing', req())).toEqual({
      allowed: false,
      intention: undefined,
      permission: undefined,
    });
    expect(IntentionTable.build([], true).decide('billing', req())).toMatchObject({
      allowed: true,
      intention: undefined,
    });
  });

  it('follows precedence across destinations: * -> api (8) before web -> * (6), whatever the order given', () => {
    const anyToApi = l4('*', 'deny', 8);
    const webToAny = l4('web', 'allow', 6);
    for (const list of [
      [anyToApi, webToAny],
      [webToAny, anyToApi],
    ]) {
      const table = IntentionTable.build(list, true);
      expect(table.decide('web', req()).intention).toBe(anyToApi);
    }
    // web -> api (9) outranks * -> api (8).
    const webToApi = l4('web', 'allow', 9);
    expect(IntentionTable.build([anyToApi, webToApi], false).decide('web', req()).intention).toBe(webToApi);
  });

  it("at equal precedence puts an exact source before '*', then keeps the order given", () => {
    const any = l4('*', 'deny', 5);
    const web = l4('web', 'allow', 5);
    const webAgain = l4('web', 'deny', 5);
    const table = IntentionTable.build([any, web, webAgain], false);
    expect(table.decide('web', req()).intention).toBe(web);
    expect(table.decide('db', req()).intention).toBe(any);
  });

  it('keys sources by Map: names like __proto__ and constructor are plain names', () => {
    const proto = l4('__proto__', 'allow');
    const table = IntentionTable.build([proto], false);
    expect(table.decide('__proto__', req()).intention).toBe(proto);
    expect(table.decide('constructor', req()).allowed).toBe(false);
    expect(table.decide('toString', req()).intention).toBeUndefined();
  });

  it('denies an intention with neither or both of action and permissions, and says why', () => {
    const neither = { ...l4('a', 'allow'), action: undefined };
    const both = { ...l4('b', 'allow'), permissions: [{ action: 'allow' as const }] };
    const odd = { ...l4('c', 'allow'), action: 'ALLOW' as unknown as 'allow' };
    const table = IntentionTable.build([neither, both, odd, l4('*', 'allow', 1)], true);
    for (const s of ['a', 'b', 'c']) expect(table.decide(s, req())).toMatchObject({ allowed: false });
    expect(table.problems).toEqual([
      'intentions[0].action: expected "allow" or "deny" when there are no permissions; denies',
      'intentions[1]: both action and permissions (Consul allows one); denies',
      'intentions[2].action: expected "allow" or "deny" when there are no permissions; denies',
    ]);
  });
});

describe('IntentionTable L7', () => {
  // Consul's gRPC example: every billing method but IssueRefund.
  const billing = l7('frontend', [
    { action: 'deny', http: { pathExact: '/billing.Billing/IssueRefund' } },
    { action: 'allow', http: { pathPrefix: '/billing.Billing/' } },
  ]);

  it('takes the first matching permission, top to bottom, and names it', () => {
    const table = IntentionTable.build([billing], false);
    expect(table.decide('frontend', req('/billing.Billing/IssueRefund'))).toEqual({
      allowed: false,
      intention: billing,
      permission: 0,
    });
    const d = table.decide('frontend', req('/billing.Billing/Charge'));
    expect(d).toEqual({ allowed: true, intention: billing, permission: 1 });
    expect(table.decide('frontend', req('/billing.Billing/Charge?x=1'))).toBe(d);
  });

  it('applies the default, not a lower intention, when no permission matches', () => {
    const table = IntentionTable.build([billing, l4('*', 'allow')], false);
    expect(table.decide('frontend', req('/other'))).toEqual({
      allowed: false,
      intention: undefined,
      permission: undefined,
    });
    expect(table.decide('someone', req('/other')).allowed).toBe(true);
    const open = IntentionTable.build([billing, l4('*', 'deny')], true);
    expect(open.decide('frontend', req('/other'))).toMatchObject({ allowed: true, intention: undefined });
  });

  it('matches the path before the query: exact, prefix, and a regex over the whole path', () => {
    const table = IntentionTable.build(
      [
        l7('a', [{ action: 'allow', http: { pathExact: '/x' } }]),
        l7('b', [{ action: 'allow', http: { pathRegex: '/items/[0-9]+' } }]),
      ],
      false,
    );
    expect(table.decide('a', req('/x?y=1')).allowed).toBe(true);
    expect(table.decide('a', req('/x/')).allowed).toBe(false);
    expect(table.decide('b', req('/items/42?q=/items/')).allowed).toBe(true);
    expect(table.decide('b', req('/items/42/reviews')).allowed).toBe(false);
    expect(table.decide('b', req('/v1/items/42')).allowed).toBe(false);
  });

  it('matches methods case-sensitively, any of the list; no list is any method', () => {
    const table = IntentionTable.build(
      [
        l7('a', [{ action: 'allow', http: { methods: ['GET', 'HEAD'] } }]),
        l7('b', [{ action: 'allow', http: { pathPrefix: '/', methods: [] } }]),
      ],
      false,
    );
    expect(table.decide('a', req('/', 'HEAD')).allowed).toBe(true);
    expect(table.decide('a', req('/', 'get')).allowed).toBe(false);
    expect(table.decide('a', req('/', 'POST')).allowed).toBe(false);
    expect(table.decide('b', req('/', 'DELETE')).allowed).toBe(true);
  });

  it("matches headers as Envoy does: all must match, repeated values joined with ','", () => {
    const rule = (http: HttpPermission) =>
      IntentionTable.build([l7('a', [{ action: 'allow', http }])], false);
    const all = rule({
      headers: [
        { name: 'X-Group', exact: 'beta' },
        { name: 'x-tenant', prefix: 't-' },
        { name: 'x-host', suffix: '.internal' },
        { name: 'x-id', regex: '[0-9a-f]{4}' },
        { name: 'x-trace', present: true },
      ],
    });
    const ok = {
      'x-group': 'beta',
      'x-tenant': 't-1',
      'x-host': 'a.internal',
      'x-id': 'beef',
      'x-trace': '',
    };
    expect(all.decide('a', req('/', 'GET', ok)).allowed).toBe(true);
    for (const [name, bad] of [
      ['x-group', 'Beta'],
      ['x-tenant', 'u-1'],
      ['x-host', 'a.internal.evil'],
      ['x-id', 'beef0'],
      ['x-trace', undefined],
    ] as const) {
      expect(all.decide('a', req('/', 'GET', { ...ok, [name]: bad })).allowed).toBe(false);
    }
    const joined = rule({ headers: [{ name: 'x-v', exact: 'a,b' }] });
    expect(joined.decide('a', req('/', 'GET', { 'x-v': ['a', 'b'] })).allowed).toBe(true);
    expect(joined.decide('a', req('/', 'GET', { 'x-v': [] })).allowed).toBe(false);
  });

  it('inverts a header rule; an absent header matches only an inverted present rule', () => {
    const notBeta = IntentionTable.build(
      [l7('a', [{ action: 'allow', http: { headers: [{ name: 'x-group', exact: 'beta', invert: true }] } }])],
      false,
    );
    expect(notBeta.decide('a', req('/', 'GET', { 'x-group': 'alpha' })).allowed).toBe(true);
    expect(notBeta.decide('a', req('/', 'GET', { 'x-group': 'beta' })).allowed).toBe(false);
    expect(notBeta.decide('a', req('/', 'GET', {})).allowed).toBe(false);
    const absent = IntentionTable.build(
      [l7('a', [{ action: 'allow', http: { headers: [{ name: 'x-debug', present: true, invert: true }] } }])],
      false,
    );
    expect(absent.decide('a', req('/', 'GET', {})).allowed).toBe(true);
    expect(absent.decide('a', req('/', 'GET', { 'x-debug': '1' })).allowed).toBe(false);
  });

  it('reads only own header properties: a rule on constructor does not find Object.prototype', () => {
    const table = IntentionTable.build(
      [l7('a', [{ action: 'allow', http: { headers: [{ name: 'constructor', present: true }] } }])],
      false,
    );
    expect(table.decide('a', req('/', 'GET', {})).allowed).toBe(false);
    expect(table.decide('a', req('/', 'GET', { constructor: 'x' })).allowed).toBe(true);
  });

  it('treats empty strings as fields not given, as Consul does', () => {
    const table = IntentionTable.build(
      [l7('a', [{ action: 'allow', http: { pathExact: '', pathPrefix: '/ok' } }])],
      false,
    );
    expect(table.problems).toEqual([]);
    expect(table.decide('a', req('/ok/1')).allowed).toBe(true);
  });

  it('a value over the regex input limit does not match', () => {
    const table = IntentionTable.build([l7('a', [{ action: 'allow', http: { pathRegex: '/.*' } }])], false);
    expect(table.decide('a', req(`/${'a'.repeat(100)}`)).allowed).toBe(true);
    expect(table.decide('a', req(`/${'a'.repeat(9000)}`)).allowed).toBe(false);
  });
});

describe('IntentionTable fails closed on permissions it cannot enforce', () => {
  it('a refused regex makes its permission deny-only, reported with its field path', () => {
    const table = IntentionTable.build(
      [
        l4('x', 'allow'),
        l7('a', [
          { action: 'allow', http: { methods: ['GET'], pathRegex: '(a)\\1' } },
          { action: 'allow', http: { pathPrefix: '/' } },
        ]),
      ],
      true,
    );
    expect(table.problems).toHaveLength(1);
    expect(table.problems[0]).toMatch(/^intentions\[1\]\.permissions\[0\]\.http\.pathRegex: /);
    // The broken permission still scopes by method, and denies what it covers.
    expect(table.decide('a', req('/aa', 'GET'))).toMatchObject({ allowed: false, permission: 0 });
    expect(table.decide('a', req('/aa', 'POST'))).toMatchObject({ allowed: true, permission: 1 });
  });

  it('unknown fields, two path matchers and malformed header rules are reported and deny', () => {
    const perms = [
      { action: 'allow', http: { pathPrefix: '/a', pathSuffix: '/b' } },
      { action: 'allow', http: { pathExact: '/a', pathPrefix: '/a' } },
      { action: 'allow', http: { headers: [{ name: 'x' }] } },
      { action: 'allow', http: { headers: [{ name: 'x', exact: 'a', prefix: 'a' }] } },
      { action: 'allow', http: { headers: [{ name: '', present: true }] } },
      { action: 'allow', http: { headers: [{ name: 'x', regex: '(?=a)' }] } },
      { action: 'allow', http: { methods: 'GET' } },
      { action: 'allow', extra: true },
      { action: 'permit' },
    ] as unknown as IntentionPermission[];
    const table = IntentionTable.build([l7('a', perms)], true);
    expect(table.problems).toEqual([
      expect.stringMatching(/^intentions\[0\]\.permissions\[0\]\.http\.pathSuffix: unknown field/),
      'intentions[0].permissions[1].http: at most one of pathExact, pathPrefix, pathRegex; got pathExact, pathPrefix',
      'intentions[0].permissions[2].http.headers[0]: expected exactly one of present, exact, prefix, suffix, regex; got 0',
      'intentions[0].permissions[3].http.headers[0]: expected exactly one of present, exact, prefix, suffix, regex; got 2',
      'intentions[0].permissions[4].http.headers[0].name: expected a header name',
      expect.stringMatching(/^intentions\[0\]\.permissions\[5\]\.http\.headers\[0\]\.regex: /),
      'intentions[0].permissions[6].http.methods: not a list of strings',
      expect.stringMatching(/^intentions\[0\]\.permissions\[7\]\.extra: unknown field/),
      'intentions[0].permissions[8].action: expected "allow" or "deny"',
    ]);
    // Each is deny-only: the first still scopes by its prefix, the second lost its path matchers.
    expect(table.decide('a', req('/a/x'))).toMatchObject({ allowed: false, permission: 0 });
    expect(table.decide('a', req('/zzz'))).toMatchObject({ allowed: false, permission: 1 });
  });

  it('lists at most 100 problems and counts the rest', () => {
    const bad = Array.from({ length: 150 }, (_, i) =>
      l7(`s${i}`, [{ action: 'allow', http: { pathRegex: '(' } }]),
    );
    const table = IntentionTable.build(bad, false);
    expect(table.problems).toHaveLength(101);
    expect(table.problems[100]).toBe('... and 50 more');
    expect(table.size).toBe(150);
  });
});
