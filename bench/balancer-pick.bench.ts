// Pick cost per algorithm for 10, 100 and 1,000 endpoints, against Math.random() measured in
// the same run: the pick alone, and the pick with the bookkeeping every real call adds
// (onCallStart before sending, onCallEnd with the latency after the answer, as the governed
// client does per attempt). A second table compares, at 1,000 endpoints and in the same
// rounds, that bookkeeping through the stack (onCallStart/onCallEnd: an id lookup per layer
// and a shared outcome object) with the pick handle's started()/ended() (direct references).
// Run: node_modules/.bin/node bench/balancer-pick.bench.ts
import { type BalancerRule, type BalancerStack, createBalancer } from '@meshless/balancer';
import type { CallOutcome, Endpoint, PickContext } from '@meshless/core';
import {
  fmtSpread,
  measureNs,
  type NsResult,
  pairwise,
  printTable,
  spread,
  writeResults,
} from './lib/measure.ts';

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

// Pick + bookkeeping per call, old API against the handle, alternating in each round.
const HANDLE_ROUNDS = 7;
const HANDLE_CASES = CASES.filter((c) => ['p2c-peak-ewma', 'least-request', 'round-robin'].includes(c.name));
const handleRows: Record<string, string | number>[] = [];
const handleResults: { algorithm: string; endpoints: number; api: number[]; handle: number[] }[] = [];
for (const c of HANDLE_CASES) {
  const n = 1000;
  const b: BalancerStack = createBalancer(c.rule);
  const eps = endpoints(n);
  b.update(eps);
  for (let i = 0; i < eps.length; i++) {
    const h = b.handleOf(eps[i]!.id)!;
    h.started();
    h.ended(5 + (i % 17), true, 200);
    if (i % 4 === 0) h.started();
  }
  const picker = b.picker;
  const viaApi = (i: number) => {
    const ep = picker.pick(plain)!;
    b.onCallStart(ep);
    outcome.latencyMs = 5 + (i % 17);
    b.onCallEnd(ep, outcome);
    return ep;
  };
  const viaHandle = (i: number) => {
    const h = b.pickHandle(plain)!;
    h.started();
    h.ended(5 + (i % 17), true, 200);
    return h;
  };
  const api: number[] = [];
  const handle: number[] = [];
  for (let r = 0; r < HANDLE_ROUNDS; r++) {
    api.push(measureNs(`${c.name} onCallStart/End`, viaApi, 200_000, 1).ns);
    handle.push(measureNs(`${c.name} handle`, viaHandle, 200_000, 1).ns);
  }
  handleResults.push({ algorithm: c.name, endpoints: n, api, handle });
  handleRows.push({
    algorithm: c.name,
    endpoints: n,
    'ns pick + onCallStart/End': fmtSpread(spread(api)),
    'ns pickHandle + started/ended': fmtSpread(spread(handle)),
    'handle / API': fmtSpread(spread(pairwise(handle, api, (a, x) => a / x)), 2),
  });
  b.dispose();
}
printTable(
  `Pick + start/end bookkeeping at 1,000 endpoints, stack API vs pick handle (default stack: outlier on; median (min-max) of ${HANDLE_ROUNDS} alternating rounds x 200k calls; ratio per round)`,
  handleRows,
);
writeResults('balancer-pick', { baseline, results, handle: handleResults });
