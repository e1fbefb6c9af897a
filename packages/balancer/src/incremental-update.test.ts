import type { Endpoint, Random } from '@meshless/core';
import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import type { BalancerRule } from './balancer-rule.ts';
import { type BalancerStack, createBalancer } from './create-balancer.ts';
import { EndpointHandle } from './endpoint-handle.ts';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { MaglevPicker } from './maglev.ts';
import { RingHashPicker } from './ring-hash.ts';

// Incremental updates (merge against the last list, patched zone lists, reused tables) must
// behave exactly like the general path: two stacks with the same clock and the same seeded
// randomness, one incremental and one not (EndpointStatsStore({ incremental: false })), get
// the same random sequence of lists and outcomes, and must pick the same endpoints.

const ZONES = ['z1', 'z2', 'z3'];
const byId = (a: Endpoint, b: Endpoint) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function make(i: number, rnd: Random, version = 0): Endpoint {
  return endpoint(`ep-${String(i).padStart(3, '0')}`, {
    zone: ZONES[Math.floor(rnd() * 3)],
    region: 'r',
    weight: rnd() < 0.8 ? 1 : 1 + Math.floor(rnd() * 3),
    meta: { v: String(version) },
  });
}

interface Pair {
  inc: BalancerStack;
  ref: BalancerStack;
  clock: ManualClock;
}

function pair(rule: BalancerRule, seed: number): Pair {
  const clock = new ManualClock();
  const build = (incremental: boolean) =>
    createBalancer(rule, {
      now: clock.now,
      random: seededRandom(seed),
      localZone: 'z1',
      localRegion: 'r',
      stats: new EndpointStatsStore({ now: clock.now, incremental }),
    });
  return { inc: build(true), ref: build(false), clock };
}

function picks(b: BalancerStack, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.picker.pick({ hashKey: `k${i}` })?.id ?? '-');
  return out;
}

/** The same list for a stack: raw endpoints, or (when `asHandles`) its own handles for the unchanged ones. */
function given(b: BalancerStack, list: readonly Endpoint[], asHandles: boolean): Endpoint[] {
  if (!asHandles) return [...list];
  return list.map((ep) => {
    const h = b.handleOf(ep.id);
    return h !== undefined && h.endpoint === ep ? h : ep;
  });
}

function expectSameState(p: Pair, step: string): void {
  expect(picks(p.inc, 60), step).toEqual(picks(p.ref, 60));
  expect(p.inc.ejectedIds.sort(), step).toEqual(p.ref.ejectedIds.sort());
  expect(p.inc.stats.size, step).toBe(p.ref.stats.size);
  for (const s of p.ref.stats.values()) {
    const t = p.inc.stats.get(s.endpoint.id);
    expect(t, step).toBeDefined();
    expect(t!.endpoint, step).toBe(s.endpoint);
    expect([t!.weightScale, t!.ejectedUntil, t!.unavailableUntil], step).toEqual([
      s.weightScale,
      s.ejectedUntil,
      s.unavailableUntil,
    ]);
  }
}

const RULES: [string, BalancerRule][] = [
  ['default', {}],
  ['p2c-peak-ewma, outlier {}', { algorithm: 'p2c-peak-ewma', outlier: {}, slowStartMs: 20_000 }],
  ['least-request', { algorithm: 'least-request', slowStartMs: 20_000 }],
  ['round-robin', { algorithm: 'round-robin', slowStartMs: 20_000 }],
  ['weighted-round-robin', { algorithm: 'weighted-round-robin', slowStartMs: 20_000 }],
  ['random', { algorithm: 'random', slowStartMs: 20_000 }],
  ['ring-hash', { algorithm: 'ring-hash', hashOn: { header: 'x' } }],
  ['maglev', { algorithm: 'maglev', hashOn: { header: 'x' }, maglev: { tableSize: 1009 } }],
];

describe('incremental updates pick as a full rebuild does', () => {
  for (const [name, rule] of RULES) {
    it(`${name}: changed, added, removed, reordered, repeated ids, handles passed back, ejections, breaker marks`, () => {
      const rnd = seededRandom(name.length * 7919);
      const p = pair(rule, 42);
      let next = 40;
      let list = Array.from({ length: 30 }, (_, i) => make(i, rnd)).sort(byId);
      const feed = (l: readonly Endpoint[], asHandles = false) => {
        p.inc.update(given(p.inc, l, asHandles));
        p.ref.update(given(p.ref, l, asHandles));
      };
      feed(list);
      expectSameState(p, 'initial');
      let merged = 0; // updates the incremental store took its merge path for
      const feedSorted = (l: readonly Endpoint[], asHandles: boolean) => {
        const before = p.inc.stats.handles;
        feed(l, asHandles);
        if (p.inc.stats.changeSince(before) !== undefined) merged++;
      };
      for (let step = 0; step < 60; step++) {
        const op = Math.floor(rnd() * 9);
        const k = Math.floor(rnd() * list.length);
        let label = `step ${step} op ${op}`;
        if (op === 0 || op === 1) {
          // One endpoint replaced by a new object (same id; maybe another zone or weight).
          const copy = list.slice();
          const id = Number(copy[k]!.id.slice(3));
          copy[k] = make(id, rnd, step + 1);
          list = copy;
        } else if (op === 2) {
          list = [...list, make(next++, rnd)].sort(byId); // a newcomer (slow start ramps it)
        } else if (op === 3 && list.length > 5) {
          list = list.filter((_, i) => i !== k);
        } else if (op === 4) {
          // Several at once: two removed, two added, one changed.
          const copy = list.filter((_, i) => i !== k && i !== (k + 7) % list.length);
          copy.push(make(next++, rnd), make(next++, rnd));
          copy.sort(byId);
          const c = Math.floor(rnd() * copy.length);
          copy[c] = make(Number(copy[c]!.id.slice(3)), rnd, step + 100);
          list = copy;
        } else if (op === 5) {
          // Out of order once (the general path), then sorted again next time.
          const shuffled = list.slice().reverse();
          label += ' reversed';
          feed(shuffled);
          expectSameState(p, label);
        } else if (op === 6) {
          // A repeated id (the general path must take it).
          label += ' repeated';
          feed([...list, list[k]!].sort(byId));
          expectSameState(p, label);
        } else if (op === 7) {
          // Connect errors through the handles: the third in a row ejects.
          const id = list[k]!.id;
          for (const b of [p.inc, p.ref]) {
            const h = b.handleOf(id)!;
            for (let i = 0; i < 3; i++) {
              h.started();
              h.ended(0.1, false, undefined, 'connect');
            }
          }
        } else {
          // A breaker opens on one endpoint (or closes again).
          const id = list[k]!.id;
          const open = rnd() < 0.7;
          for (const b of [p.inc, p.ref]) {
            const h = b.handleOf(id)!;
            if (open) h.markUnavailable(p.clock.now() + 5_000);
            else h.markAvailable();
          }
        }
        p.clock.advance(Math.floor(rnd() * 3_000));
        feedSorted(list, rnd() < 0.3);
        expectSameState(p, label);
      }
      expect(merged).toBeGreaterThan(40);
    });
  }
});

describe('EndpointStatsStore merge path', () => {
  const eps = ['a', 'b', 'c', 'd', 'e'].map((id) => endpoint(id));

  it('keeps handles and stats of unchanged endpoints, renews a changed one, drops a removed one', () => {
    const store = new EndpointStatsStore();
    const first = store.sync(eps);
    const firstMembers = store.endpoints;
    const b2 = endpoint('b', { weight: 3 });
    const f = endpoint('f');
    const second = store.sync([eps[0]!, b2, eps[2]!, eps[4]!, f]);
    expect(second[0]).toBe(first[0]);
    expect(second[2]).toBe(first[2]);
    expect(second[3]).toBe(first[4]);
    expect(second[1]).not.toBe(first[1]);
    expect(second[1]!.stats).toBe(first[1]!.stats); // same id: the stats carry over
    expect(second[1]!.weight).toBe(3);
    expect(first[3]!.stats.live).toBe(false); // d left
    expect(store.get('d')).toBeUndefined();
    expect(second[4]!.stats.initial).toBe(false); // f joined later
    expect(store.statsList).toEqual(second.map((h) => h.stats));
    expect(store.endpoints).toEqual([eps[0], b2, eps[2], eps[4], f]);
    // What changed, by list: d and the old b left; the new b and f came.
    const change = store.changeSince(first)!;
    expect(change.removed).toEqual([first[1], first[3]]);
    expect(change.added).toEqual([second[1], second[4]]);
    expect(store.changeSince(firstMembers)!.added).toEqual([b2, f]);
    expect(store.changeSince(firstMembers)!.removed).toEqual([eps[1], eps[3]]);
    expect(store.changeSince([])).toBeUndefined();
  });

  it('takes its own handles back as the endpoints they stand for', () => {
    const store = new EndpointStatsStore();
    const first = store.sync(eps);
    const again = store.sync([...first]);
    expect(again).toEqual(first);
    for (let i = 0; i < eps.length; i++) expect(again[i]).toBe(first[i]);
    expect(store.endpoints.every((ep) => !(ep instanceof EndpointHandle))).toBe(true);
  });

  it('falls back to the general path for unsorted lists and repeated ids, and merges again after', () => {
    const store = new EndpointStatsStore();
    const first = store.sync(eps);
    const reversed = store.sync([...eps].reverse());
    expect(reversed.map((h) => h.id)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(reversed[0]).toBe(first[4]);
    expect(store.changeSince(first)).toBeUndefined(); // the general path records no change
    const repeated = store.sync([eps[0]!, eps[0]!, eps[1]!]);
    expect(repeated[0]).toBe(repeated[1]);
    expect(store.size).toBe(2);
    const sorted = store.sync(eps);
    expect(sorted[0]).toBe(first[0]);
    expect(store.size).toBe(5);
  });

  it('keeps ejection counts, breaker marks and the uniform weight right across updates', () => {
    const store = new EndpointStatsStore();
    const handles = store.sync(eps);
    expect(store.uniformWeight).toBe(1);
    store.setEjected(handles[1]!.stats, 1000, 'connect-errors');
    handles[2]!.markUnavailable(500);
    expect([store.ejectedCount, store.markedCount]).toEqual([1, 1]);
    const heavy = endpoint('c', { weight: 4 });
    store.sync([eps[0]!, eps[1]!, heavy, eps[3]!, eps[4]!]);
    expect(store.get('b')!.ejected).toBe(true);
    expect(store.get('c')!.unavailableUntil).toBe(500); // the mark is on the stats, kept by id
    expect(store.uniformWeight).toBeUndefined();
    // b and c leave: their ejection and mark go with them.
    store.sync([eps[0]!, eps[3]!, eps[4]!]);
    expect([store.ejectedCount, store.markedCount]).toEqual([0, 0]);
    expect(store.uniformWeight).toBe(1);
  });
});

describe('hash tables reused across updates', () => {
  const ring = (p: RingHashPicker) => {
    const r = p as unknown as {
      ringHashes: Uint32Array;
      ringOwners: Uint32Array;
      ringEndpoints: readonly Endpoint[];
    };
    return {
      hashes: Array.from(r.ringHashes),
      owners: Array.from(r.ringOwners),
      ids: r.ringEndpoints.map((e) => e.id),
    };
  };

  it('a ring merged from the last one is the ring a full build makes', () => {
    const rnd = seededRandom(5);
    let list = Array.from({ length: 12 }, (_, i) => make(i, rnd)).sort(byId);
    let prev = new RingHashPicker(list, {}, seededRandom(1));
    let next = 100;
    for (let step = 0; step < 25; step++) {
      const copy = list.slice();
      const k = Math.floor(rnd() * copy.length);
      const op = step % 3;
      if (op === 0)
        copy[k] = make(Number(copy[k]!.id.slice(3)), rnd, step); // maybe a new weight
      else if (op === 1) copy.push(make(next++, rnd));
      else if (copy.length > 3) copy.splice(k, 1);
      list = copy.sort(byId);
      const merged = new RingHashPicker(list, {}, seededRandom(1), prev);
      expect(ring(merged)).toEqual(ring(new RingHashPicker(list, {}, seededRandom(1))));
      prev = merged;
    }
  });

  it('an update that changed no id or weight shares the table and picks the new objects', () => {
    const rnd = seededRandom(6);
    const list = Array.from({ length: 8 }, (_, i) => make(i, rnd)).sort(byId);
    const renewed = list.map((ep) => ({ ...ep, meta: { v: 'new' } }));
    const r1 = new RingHashPicker(list, {}, seededRandom(1));
    const r2 = new RingHashPicker(renewed, {}, seededRandom(1), r1);
    expect((r2 as unknown as { ringHashes: Uint32Array }).ringHashes).toBe(
      (r1 as unknown as { ringHashes: Uint32Array }).ringHashes,
    );
    const m1 = new MaglevPicker(list, 1009, seededRandom(1));
    const m2 = new MaglevPicker(renewed, 1009, seededRandom(1), m1);
    for (let i = 0; i < 50; i++) {
      const ctx = { hashKey: `user-${i}` };
      expect(r2.pick(ctx)).toBe(renewed.find((e) => e.id === r1.pick(ctx)!.id));
      expect(m2.pick(ctx)).toBe(renewed.find((e) => e.id === m1.pick(ctx)!.id));
    }
  });
});
