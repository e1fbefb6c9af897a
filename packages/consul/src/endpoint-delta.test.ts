import type { Endpoint } from '@meshless/core';
import { seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { applyEndpointDelta, diffEndpoints, reconcileEndpoints, reviveEndpoint } from './endpoint-delta.ts';
import { EndpointInterner, makeEndpoint } from './health-parse.ts';

function ep(id: string, fields: Partial<Endpoint> = {}): Endpoint {
  return makeEndpoint({
    id,
    service: 'api',
    address: '10.0.0.1',
    port: 8080,
    tags: [],
    meta: {},
    weight: 1,
    ...fields,
  });
}

/** What a structured clone makes of an endpoint: plain, unfrozen, meta with Object.prototype. */
function cloned(e: Endpoint): Endpoint {
  return structuredClone({ ...e, tags: [...e.tags], meta: { ...e.meta } });
}

const pool = () => new EndpointInterner();

describe('endpoint deltas', () => {
  it('names only the endpoints that changed, were added or left', () => {
    const a = ep('a');
    const b = ep('b');
    const c = ep('c');
    const d = ep('d');
    const delta = diffEndpoints([a, b, c], [a, ep('b', { port: 9090 }), d]);
    expect(delta.upserts.map((e) => [e.id, e.port])).toEqual([
      ['b', 9090],
      ['d', 8080],
    ]);
    expect(delta.removed).toEqual(['c']);
    expect(diffEndpoints([a, b], [ep('a'), ep('b')])).toEqual({ upserts: [], removed: [] });
  });

  it('applies a delta keeping the identity of every unchanged endpoint', () => {
    const prev = ['a', 'b', 'c', 'd', 'e'].map((id) => ep(id));
    const interner = pool();
    const next = applyEndpointDelta(
      prev,
      { upserts: [cloned(ep('aa')), cloned(ep('c', { weight: 5 }))], removed: ['b', 'e'] },
      (e) => reviveEndpoint(e, interner),
    );
    expect(next.map((e) => e.id)).toEqual(['a', 'aa', 'c', 'd']);
    expect(next[0]).toBe(prev[0]);
    expect(next[3]).toBe(prev[3]);
    expect(next[2]!.weight).toBe(5);
    expect(Object.isFrozen(next)).toBe(true);
    expect(applyEndpointDelta(prev, { upserts: [], removed: [] }, (e) => e)).toBe(prev);
  });

  it('agrees with the new list for random changes (diff then apply is the identity)', () => {
    const random = seededRandom(7);
    let prev: readonly Endpoint[] = [];
    for (let round = 0; round < 200; round++) {
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) if (random() < 0.6) ids.add(`n${String(i).padStart(2, '0')}`);
      const next = [...ids].sort().map((id) => ep(id, { port: 8000 + Math.floor(random() * 3) }));
      const interner = pool();
      const applied = applyEndpointDelta(prev, diffEndpoints(prev, next.map(cloned)), (e) =>
        reviveEndpoint(e, interner),
      );
      expect(applied).toEqual(next);
      prev = applied;
    }
  });

  it('revives meta without a prototype, and frozen, so a lookup finds only registered keys', () => {
    const interner = pool();
    const plain = cloned(
      ep('a', { meta: Object.assign(Object.create(null), { version: '2', constructor: 'x' }) }),
    );
    const revived = reviveEndpoint(plain, interner);
    expect(Object.getPrototypeOf(revived.meta)).toBe(null);
    expect(revived.meta.constructor).toBe('x');
    expect(revived.meta.toString).toBeUndefined();
    expect(Object.isFrozen(revived)).toBe(true);
    expect(Object.isFrozen(revived.meta)).toBe(true);
    // Equal tags and meta are shared between revived endpoints.
    const other = reviveEndpoint(cloned(ep('b', { meta: { version: '2', constructor: 'x' } })), interner);
    expect(other.meta).toBe(revived.meta);
  });

  it('reconciles a whole list from another thread: equal endpoints keep their old objects', () => {
    const prev = [ep('a'), ep('b'), ep('c')];
    const next = reconcileEndpoints(
      prev,
      [cloned(ep('c')), cloned(ep('a')), cloned(ep('b', { port: 1 }))],
      pool(),
    );
    expect(next.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(next[0]).toBe(prev[0]);
    expect(next[2]).toBe(prev[2]);
    expect(next[1]!.port).toBe(1);
    expect(reconcileEndpoints(prev, prev.map(cloned), pool())).toBe(prev);
  });

  it('bounds the interner: past its limit it starts over, and values handed out stay valid', () => {
    const interner = new EndpointInterner(4);
    const first = interner.tags(['a']);
    for (let i = 0; i < 10; i++) interner.tags([`t${i}`]);
    expect(first).toEqual(['a']);
    expect(interner.tags(['t9'])).toBe(interner.tags(['t9']));
  });
});
