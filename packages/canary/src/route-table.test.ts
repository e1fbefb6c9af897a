import { type Random, validateRuleDocument } from '@meshless/core';
import { seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import type { RouteDecision } from './route-decision.ts';
import type { RouteRequest } from './route-match.ts';
import { compileRoutes, defaultRouteTable, type RouteTable } from './route-table.ts';
import { routesSection } from './routes-schema.ts';

function request(headers: Record<string, string> = {}, path = '/items/1', method = 'GET'): RouteRequest {
  return { method, path, header: (name) => headers[name] };
}

function table(doc: unknown): RouteTable {
  return compileRoutes(validateRuleDocument(routesSection, doc));
}

/** `count` of `n` trials with probability `p` lies inside the two-sided 99.9% binomial band. */
function expectBinomial(count: number, n: number, p: number): void {
  const band = 3.29 * Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p), `${count}/${n}, expected share ${p}`).toBeLessThanOrEqual(band);
}

const subsets = {
  stable: { meta: { version: 'v1' } },
  canary: { meta: { version: 'v2' } },
  legacy: { meta: { version: 'v0' } },
};

function split(stable: number, canary: number, extra: Record<string, unknown> = {}) {
  return table({
    subsets,
    routes: [
      {
        name: 'default',
        ...extra,
        to: [
          { subset: 'stable', weight: stable },
          { subset: 'canary', weight: canary },
        ],
      },
    ],
  });
}

const noRandom: Random = () => {
  throw new Error('random drawn');
};

function tally(decide: (i: number) => RouteDecision, n: number) {
  const counts = new Map<string, number>();
  let fallbacks = 0;
  for (let i = 0; i < n; i++) {
    const d = decide(i);
    counts.set(String(d.subset), (counts.get(String(d.subset)) ?? 0) + 1);
    if (d.fallback) fallbacks++;
  }
  return { count: (s: string) => counts.get(s) ?? 0, fallbacks };
}

describe('RouteTable', () => {
  it('sends everything to all endpoints without a document', () => {
    const d = defaultRouteTable.route(request(), noRandom);
    expect(d).toMatchObject({ subset: undefined, fallback: false, available: true });
    expect(d.route).toMatchObject({ name: '(default)', index: 0, timeoutMs: undefined });
    expect(compileRoutes({ subsets }).route(request(), noRandom).subset).toBeUndefined();
    const none = defaultRouteTable.withAvailability(() => false).route(request(), noRandom);
    expect(none).toMatchObject({ subset: undefined, available: false });
  });

  it('takes the first matching route, and all endpoints when none matches', () => {
    const t = table({
      subsets,
      routes: [
        {
          name: 'beta',
          match: { headers: { 'x-user-group': { exact: 'beta' } } },
          to: [{ subset: 'canary' }],
        },
        { name: 'writes', match: { method: ['POST', 'PUT'] }, to: [{ subset: 'legacy' }], timeoutMs: 250 },
        { name: 'old-api', match: { path: { prefix: '/v0/' } }, to: [{ subset: 'legacy' }] },
      ],
    });
    expect(t.route(request({ 'x-user-group': 'beta' }, '/v0/x', 'POST'), noRandom).route.name).toBe('beta');
    const write = t.route(request({}, '/v0/x', 'POST'), noRandom);
    expect(write.route).toMatchObject({ name: 'writes', index: 1, timeoutMs: 250 });
    expect(write.subset).toBe('legacy');
    expect(t.route(request({}, '/v0/x'), noRandom).route.name).toBe('old-api');
    const rest = t.route(request({}, '/items'), noRandom);
    expect(rest.route).toMatchObject({ name: '(default)', index: 3 });
    expect(rest.subset).toBeUndefined();
    expect(t.routes.map((r) => r.name)).toEqual(['beta', 'writes', 'old-api', '(default)']);
  });

  it('uses a route without match as the default and exposes its overrides', () => {
    const t = table({
      subsets,
      routes: [
        { match: { headers: { 'x-beta': { present: true } } }, to: [{ subset: 'canary' }] },
        { to: [{ subset: 'stable' }], retry: { attempts: 2, perTryTimeoutMs: 100 } },
      ],
    });
    const d = t.route(request(), noRandom);
    expect(d.subset).toBe('stable');
    expect(d.route).toMatchObject({ name: 'routes[1]', retry: { attempts: 2, perTryTimeoutMs: 100 } });
    expect(t.route(request({ 'x-beta': '' }), noRandom).route.name).toBe('routes[0]');
  });

  it('splits 90/10 within a binomial band and returns prepared decisions', () => {
    const t = split(90, 10);
    const random = seededRandom(1);
    const { count } = tally(() => t.route(request(), random), 20_000);
    expectBinomial(count('canary'), 20_000, 0.1);
    expect(count('stable') + count('canary')).toBe(20_000);
    expect(t.route(request(), () => 0.5)).toBe(t.route(request(), () => 0.6));
  });

  it('keeps a sticky user on one subset, and moves only stable users to canary when weights grow', () => {
    const before = split(90, 10, { stickyBy: { header: 'x-user-id' } });
    const after = split(50, 50, { stickyBy: { header: 'x-user-id' } });
    const random = seededRandom(2);
    const users = 10_000;
    let moved = 0;
    let movedBack = 0;
    for (let i = 0; i < users; i++) {
      const r = request({ 'x-user-id': `user-${i}` });
      const a = before.route(r, random).subset;
      expect(before.route(r, random).subset).toBe(a);
      const b = after.route(r, random).subset;
      if (a !== b) {
        if (a === 'stable') moved++;
        else movedBack++;
      }
    }
    expectBinomial(moved, users, 0.4);
    expect(movedBack).toBe(0);
  });

  it('falls back to a random weighted choice without the sticky header or cookie', () => {
    const t = split(90, 10, { stickyBy: { cookie: 'uid' } });
    const random = seededRandom(3);
    const { count } = tally(() => t.route(request({ 'x-user-id': 'u1' }), random), 20_000);
    expectBinomial(count('canary'), 20_000, 0.1);
    const withCookie = request({ cookie: 'theme=dark; uid=u-7' });
    const first = t.route(withCookie, random).subset;
    for (let i = 0; i < 20; i++) expect(t.route(withCookie, random).subset).toBe(first);
  });

  it('moves traffic of an empty subset to the other destinations, flagged as fallback', () => {
    const t = split(90, 10);
    const random = seededRandom(4);
    const noCanary = t.withAvailability((s) => s !== 'canary');
    const a = tally(() => noCanary.route(request(), random), 20_000);
    expect(a.count('stable')).toBe(20_000);
    expectBinomial(a.fallbacks, 20_000, 0.1);

    const noStable = t.withAvailability((s) => s !== 'stable');
    const b = tally(() => noStable.route(request(), random), 20_000);
    expect(b.count('canary')).toBe(20_000);
    expectBinomial(b.fallbacks, 20_000, 0.9);
    // The original table is untouched.
    expectBinomial(tally(() => t.route(request(), random), 20_000).count('canary'), 20_000, 0.1);
  });

  it('spreads fallback traffic in proportion to the remaining weights', () => {
    const t = table({
      subsets,
      routes: [
        {
          to: [
            { subset: 'stable', weight: 50 },
            { subset: 'canary', weight: 30 },
            { subset: 'legacy', weight: 20 },
          ],
        },
      ],
    }).withAvailability((s) => s !== 'legacy');
    const random = seededRandom(5);
    const { count, fallbacks } = tally(() => t.route(request(), random), 20_000);
    expectBinomial(count('stable'), 20_000, 0.625);
    expectBinomial(count('canary'), 20_000, 0.375);
    expectBinomial(fallbacks, 20_000, 0.2);
  });

  it('uses zero-weight destinations as a last resort, and reports when nothing is left', () => {
    const t = split(100, 0);
    const random = seededRandom(6);
    expect(t.route(request(), random).subset).toBe('stable');
    const onlyCanary = t.withAvailability((s) => s === 'canary').route(request(), random);
    expect(onlyCanary).toMatchObject({ subset: 'canary', fallback: true, available: true });
    const nothing = t.withAvailability(() => false).route(request(), random);
    expect(nothing).toMatchObject({ subset: 'stable', available: false });
  });

  it('keeps a sticky user on one fallback destination', () => {
    const t = table({
      subsets,
      routes: [
        {
          stickyBy: { header: 'x-user-id' },
          to: [
            { subset: 'stable', weight: 40 },
            { subset: 'canary', weight: 30 },
            { subset: 'legacy', weight: 30 },
          ],
        },
      ],
    }).withAvailability((s) => s !== 'canary');
    const random = seededRandom(7);
    for (let i = 0; i < 500; i++) {
      const r = request({ 'x-user-id': `user-${i}` });
      const d = t.route(r, random);
      expect(d.subset).not.toBe('canary');
      expect(t.route(r, random)).toBe(d);
    }
  });

  it('mirrors the configured share while the mirror subset has endpoints', () => {
    const t = split(90, 10, { mirror: { subset: 'legacy', percent: 25 } });
    const random = seededRandom(8);
    let mirrored = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = t.shouldMirror(t.route(request(), random).route, random);
      if (m) {
        expect(m.subset).toBe('legacy');
        mirrored++;
      }
    }
    expectBinomial(mirrored, 20_000, 0.25);
    const route = t.routes[0]!;
    expect(t.withAvailability((s) => s !== 'legacy').shouldMirror(route, () => 0)).toBeUndefined();
    expect(split(90, 10).shouldMirror(route, () => 0)).toBeUndefined();
    expect(t.shouldMirror(defaultRouteTable.routes[0]!, () => 0)).toBeUndefined();
  });

  it('injects aborts and delays in their configured shares, independently', () => {
    const t = split(90, 10, { fault: { abort: { percent: 10 }, delay: { percent: 5, ms: 200 } } });
    const random = seededRandom(9);
    const route = t.routes[0]!;
    let aborted = 0;
    let delayed = 0;
    let both = 0;
    for (let i = 0; i < 20_000; i++) {
      const f = t.fault(route, random);
      if (f?.abortStatus !== undefined) {
        expect(f.abortStatus).toBe(503);
        aborted++;
      }
      if (f && f.delayMs > 0) {
        expect(f.delayMs).toBe(200);
        delayed++;
      }
      if (f?.abortStatus !== undefined && f.delayMs > 0) both++;
    }
    expectBinomial(aborted, 20_000, 0.1);
    expectBinomial(delayed, 20_000, 0.05);
    expectBinomial(both, 20_000, 0.005);
    expect(split(90, 10).fault(route, noRandom)).toBeUndefined();
    const always = split(90, 10, { fault: { abort: { status: 429 } } });
    expect(always.fault(always.routes[0]!, noRandom)).toMatchObject({ delayMs: 0, abortStatus: 429 });
  });
});
