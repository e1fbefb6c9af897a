// Pick cost per algorithm for 10, 100 and 1,000 endpoints, against Math.random() measured in
// the same run: the pick alone, and the pick with the bookkeeping every real call adds
// (onCallStart before sending, onCallEnd with the latency after the answer, as the governed
// client does per attempt). Run: node_modules/.bin/node bench/balancer-pick.bench.ts
import { type BalancerRule, createBalancer } from '@meshless/balancer';
import type { CallOutcome, Endpoint, PickContext } from '@meshless/core';
import { measureNs, type NsResult, printTable, writeResults } from './lib/measure.ts';

const SIZES = [10, 100, 1000];
const ZONES = ['z1', 'z2', 'z3'];

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `catalog-${i}`,
    service: 'catalog',
    address: `10.0.${i >> 8}.${i & 255}`,
    port: 8080,
    tags: [],
    meta: { version: 'v1' },
    // Uneven weights, so weighted algorithms take their weighted path.
    weight: 1 + (i % 3),
    zone: ZONES[i % 3]!,
    region: 'eu-1',
  }));
}

interface Case {
  name: string;
  rule: BalancerRule;
  hashed?: boolean;
  local?: boolean;
}

const CASES: Case[] = [
  { name: 'round-robin', rule: { algorithm: 'round-robin' } },
  { name: 'weighted-round-robin', rule: { algorithm: 'weighted-round-robin' } },
  { name: 'random (weighted)', rule: { algorithm: 'random' } },
  { name: 'least-request', rule: { algorithm: 'least-request' } },
  { name: 'p2c-peak-ewma', rule: { algorithm: 'p2c-peak-ewma' } },
  {
    name: 'ring-hash (hashKey)',
    rule: { algorithm: 'ring-hash', hashOn: { header: 'x-user-id' } },
    hashed: true,
  },
  { name: 'maglev (hashKey)', rule: { algorithm: 'maglev', hashOn: { header: 'x-user-id' } }, hashed: true },
  {
    name: 'p2c-peak-ewma + locality + outlier',
    rule: { algorithm: 'p2c-peak-ewma', outlier: {}, locality: { enabled: true } },
    local: true,
  },
];

// Prepared contexts: the caller builds one per request; the picker must not allocate.
const keyed: PickContext[] = Array.from({ length: 1024 }, (_, i) => ({ hashKey: `user-${i * 7919}` }));
const plain: PickContext = {};
// One outcome object reused, as the client's is (a scratch object per module, not one per call).
const outcome: { -readonly [K in keyof CallOutcome]: CallOutcome[K] } = {
  latencyMs: 0,
  ok: true,
  status: 200,
};

const baseline = measureNs('Math.random()', () => Math.random());
const rows: Record<string, string | number>[] = [
  {
    algorithm: 'Math.random() (baseline)',
    endpoints: '-',
    'ns/pick': baseline.ns,
    'ns/pick + start + end': '-',
    'x pick alone': '-',
    'x Math.random': 1,
  },
];
const results: (NsResult & { endpoints: number; withBookkeeping: NsResult })[] = [];

for (const c of CASES) {
  for (const n of SIZES) {
    const b = createBalancer(c.rule, c.local ? { localZone: 'z1', localRegion: 'eu-1' } : {});
    const eps = endpoints(n);
    b.update(eps);
    // Give the load-aware pickers realistic state: latencies and a few calls in flight.
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      b.onCallStart(ep);
      b.onCallEnd(ep, { latencyMs: 5 + (i % 17), ok: true });
      if (i % 4 === 0) b.onCallStart(ep);
    }
    const picker = b.picker;
    const r = c.hashed
      ? measureNs(`${c.name} n=${n}`, (i) => picker.pick(keyed[i & 1023]))
      : measureNs(`${c.name} n=${n}`, () => picker.pick(plain));
    const call = (i: number) => {
      const ep = picker.pick(c.hashed ? keyed[i & 1023] : plain)!;
      b.onCallStart(ep);
      outcome.latencyMs = 5 + (i % 17);
      b.onCallEnd(ep, outcome);
      return ep;
    };
    const full = measureNs(`${c.name} n=${n} + start/end`, call);
    results.push({ ...r, endpoints: n, withBookkeeping: full });
    rows.push({
      algorithm: c.name,
      endpoints: n,
      'ns/pick': r.ns,
      'ns/pick + start + end': full.ns,
      'x pick alone': full.ns / r.ns,
      'x Math.random': full.ns / baseline.ns,
    });
    b.dispose();
  }
}

printTable(
  'Balancer pick cost, alone and with the per-call start/end bookkeeping (median of 7 rounds x 200k calls; x Math.random is of pick + start + end)',
  rows,
);
writeResults('balancer-pick', { baseline, results });
