// Balancing quality in a discrete-event simulation on a virtual clock (no real time).
// 10 endpoints, each with 8 workers and a FIFO queue; service times lognormal around 10 ms
// (seeded). 32 clients in a closed loop (each sends its next request when the last one ends),
// 50,000 requests per run, no retries. Latency = queueing + service, for successful calls;
// failed calls count as errors. Then key movement of the consistent hashes (ring-hash, maglev)
// when one endpoint leaves, joins or doubles its weight. Run: npm run bench -- balancer-quality
// (it builds first: the benchmarks import the packages' dist).
import { type BalancerRule, createBalancer, MaglevPicker, RingHashPicker } from '@meshless/balancer';
import type { Endpoint, Random } from '@meshless/core';
import { seededRandom } from '@meshless/core';
import { median, printTable, quantile, writeResults } from './lib/measure.ts';

const ENDPOINTS = 10;
const WORKERS = 8;
const CLIENTS = 32;
const REQUESTS = 50_000;
const MEDIAN_MS = 10;
const SIGMA = 0.4; // lognormal shape: p99 of service time ~2.5x the median
const FAST_FAILURE_MS = 1;

interface Scenario {
  name: string;
  /** Service time multiplier per endpoint. */
  slow: (i: number) => number;
  /** Probability that a call to the endpoint fails (fast). */
  failure: (i: number) => number;
}

const SCENARIOS: Scenario[] = [
  { name: 'all healthy', slow: () => 1, failure: () => 0 },
  { name: 'one endpoint 10x slower', slow: (i) => (i === 3 ? 10 : 1), failure: () => 0 },
  { name: 'one endpoint fails 50% (fast)', slow: () => 1, failure: (i) => (i === 3 ? 0.5 : 0) },
];

const ALGORITHMS: { name: string; rule: BalancerRule }[] = [
  { name: 'round-robin', rule: { algorithm: 'round-robin' } },
  { name: 'random', rule: { algorithm: 'random' } },
  { name: 'least-request', rule: { algorithm: 'least-request' } },
  { name: 'p2c-peak-ewma', rule: { algorithm: 'p2c-peak-ewma' } },
  { name: 'p2c-peak-ewma + outlier', rule: { algorithm: 'p2c-peak-ewma', outlier: {} } },
];

/** A min-heap of completion events ordered by time (then by sequence, for determinism). */
class EventQueue {
  private times: number[] = [];
  private seqs: number[] = [];
  private items: number[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(time: number, item: number): void {
    this.times.push(time);
    this.seqs.push(this.seq++);
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the earliest event; returns its item (its time is `peekTime` before the call). */
  peekTime(): number {
    return this.times[0]!;
  }

  pop(): number {
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.items.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(l, m)) m = l;
      if (r < this.items.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return (
      this.times[a]! < this.times[b]! || (this.times[a] === this.times[b] && this.seqs[a]! < this.seqs[b]!)
    );
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.seqs[a], this.seqs[b]] = [this.seqs[b]!, this.seqs[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
  }
}

function lognormal(random: Random, median: number, sigma: number): number {
  // Box-Muller; 1 - u keeps log() away from 0.
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

interface RunResult {
  p50: number;
  p99: number;
  errorRate: number;
  /** Share of requests sent to the degraded endpoint (index 3). */
  toDegraded: number;
  virtualSeconds: number;
}

function simulate(scenario: Scenario, rule: BalancerRule, seed: number): RunResult {
  let now = 0;
  const serviceRandom = seededRandom(seed);
  const balancer = createBalancer(rule, { now: () => now, random: seededRandom(seed + 1) });
  const eps: Endpoint[] = Array.from({ length: ENDPOINTS }, (_, i) => ({
    id: `ep-${i}`,
    service: 'sim',
    address: `10.0.0.${i}`,
    port: 80,
    tags: [],
    meta: {},
    weight: 1,
  }));
  const index = new Map(eps.map((ep, i) => [ep.id, i]));
  balancer.update(eps);

  // Request state, by request id.
  const issuedAt: number[] = [];
  const target: number[] = [];
  const fails: boolean[] = [];
  const busy = new Array<number>(ENDPOINTS).fill(0);
  const queues: number[][] = eps.map(() => []);
  const events = new EventQueue();
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  let done = 0;
  let toDegraded = 0;

  const startService = (req: number) => {
    const i = target[req]!;
    busy[i]!++;
    const failsNow = serviceRandom() < scenario.failure(i);
    fails[req] = failsNow;
    const ms = failsNow ? FAST_FAILURE_MS : lognormal(serviceRandom, MEDIAN_MS, SIGMA) * scenario.slow(i);
    events.push(now + ms, req);
  };

  const issue = () => {
    if (issued >= REQUESTS) return;
    const req = issued++;
    const ep = balancer.picker.pick()!;
    const i = index.get(ep.id)!;
    if (i === 3) toDegraded++;
    balancer.onCallStart(ep);
    issuedAt[req] = now;
    target[req] = i;
    if (busy[i]! < WORKERS) startService(req);
    else queues[i]!.push(req);
  };

  for (let c = 0; c < CLIENTS; c++) issue();
  while (events.size > 0) {
    now = events.peekTime();
    const req = events.pop();
    const i = target[req]!;
    busy[i]!--;
    const next = queues[i]!.shift();
    if (next !== undefined) startService(next);
    const latencyMs = now - issuedAt[req]!;
    const ok = !fails[req];
    balancer.onCallEnd(eps[i]!, { latencyMs, ok, status: ok ? 200 : 503 });
    if (ok) latencies.push(latencyMs);
    else errors++;
    done++;
    issue();
  }
  balancer.dispose();
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    errorRate: errors / done,
    toDegraded: toDegraded / REQUESTS,
    virtualSeconds: now / 1000,
  };
}

const results: Record<string, Record<string, RunResult>> = {};
const rows: Record<string, string | number>[] = [];
for (const [s, scenario] of SCENARIOS.entries()) {
  results[scenario.name] = {};
  for (const algo of ALGORITHMS) {
    const r = simulate(scenario, algo.rule, 1000 + s);
    results[scenario.name]![algo.name] = r;
    const healthyP99 = results['all healthy']![algo.name]!.p99;
    const ratio = r.p99 / healthyP99;
    rows.push({
      scenario: scenario.name,
      algorithm: algo.name,
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      'errors %': r.errorRate * 100,
      'to ep-3 %': r.toDegraded * 100,
      'p99 / healthy p99': ratio,
      'within 1.3x': ratio <= 1.3 ? 'yes' : 'no',
    });
  }
}

printTable(
  `Balancing quality: ${ENDPOINTS} endpoints x ${WORKERS} workers, ${CLIENTS} clients closed-loop, ${REQUESTS} requests, lognormal ~${MEDIAN_MS} ms (virtual clock)`,
  rows,
);
const worst = (algo: string) =>
  Math.max(...SCENARIOS.map((sc) => results[sc.name]![algo]!.p99 / results['all healthy']![algo]!.p99));
console.log(
  `\nGoal: p2c-peak-ewma + outlier keeps p99 within 1.3x of its all-healthy p99 in every scenario: ` +
    `${worst('p2c-peak-ewma + outlier') <= 1.3 ? 'met' : 'NOT met'} (worst ${worst('p2c-peak-ewma + outlier').toFixed(2)}x); ` +
    `round-robin worst ${worst('round-robin').toFixed(2)}x.`,
);

// Key movement: for each endpoint count, several sets of endpoint ids (the spread) and, for a
// removal, every endpoint in turn. "moved" is the share of all keys whose endpoint changed, to
// compare with the ideal (the share the changed endpoint owned or gains); "between others" is
// the share that moved between two endpoints that did not change (0 for a minimal hash).
const MOVEMENT_KEYS = 50_000;
const ID_SETS = 5;
const hashKeys = Array.from({ length: MOVEMENT_KEYS }, (_, i) => `key-${i}`);
const HASHES: { name: string; build: (eps: readonly Endpoint[]) => RingHashPicker | MaglevPicker }[] = [
  { name: 'ring-hash', build: (eps) => new RingHashPicker(eps, {}, seededRandom(1)) },
  { name: 'maglev', build: (eps) => new MaglevPicker(eps, 65_537, seededRandom(1)) },
];
const hashEndpoint = (id: string, weight = 1): Endpoint => ({
  id,
  service: 'sim',
  address: '10.0.0.1',
  port: 80,
  tags: [],
  meta: {},
  weight,
});

interface Movement {
  moved: number;
  ideal: number;
  between: number;
}

/** Keys that changed endpoint, and those that moved between two endpoints other than `changed`. */
function movement(
  build: (eps: readonly Endpoint[]) => RingHashPicker | MaglevPicker,
  before: readonly Endpoint[],
  after: readonly Endpoint[],
  changed: string,
): Movement {
  const a = build(before);
  const b = build(after);
  let moved = 0;
  let between = 0;
  let ownedBefore = 0;
  let ownedAfter = 0;
  for (const hashKey of hashKeys) {
    const x = a.pick({ hashKey })!.id;
    const y = b.pick({ hashKey })!.id;
    if (x === changed) ownedBefore++;
    if (y === changed) ownedAfter++;
    if (x === y) continue;
    moved++;
    if (x !== changed && y !== changed) between++;
  }
  return {
    moved: moved / MOVEMENT_KEYS,
    ideal: Math.abs(ownedAfter - ownedBefore) / MOVEMENT_KEYS,
    between: between / MOVEMENT_KEYS,
  };
}

const spread = (values: number[]) => {
  const s = [...values].sort((x, y) => x - y);
  const pct = (v: number) => (v * 100).toFixed(2);
  return `${pct(s[0]!)} / ${pct(s[s.length >> 1]!)} / ${pct(s[s.length - 1]!)}`;
};

const movementRows: Record<string, string | number>[] = [];
const movementResults: Record<string, Record<string, Movement[]>> = {};
for (const hash of HASHES) {
  movementResults[hash.name] = {};
  for (const n of [4, 5, 6, 10]) {
    const runs: Record<string, Movement[]> = { remove: [], add: [], 'weight x2': [] };
    for (let set = 0; set < ID_SETS; set++) {
      const eps = Array.from({ length: n }, (_, i) => hashEndpoint(`node-${set}-${i}`));
      for (const gone of eps) {
        runs.remove!.push(
          movement(
            hash.build,
            eps,
            eps.filter((ep) => ep !== gone),
            gone.id,
          ),
        );
      }
      const joiner = hashEndpoint(`node-${set}-new`);
      runs.add!.push(movement(hash.build, eps, [...eps, joiner], joiner.id));
      const heavier = eps.map((ep, i) => (i === 0 ? hashEndpoint(ep.id, 2) : ep));
      runs['weight x2']!.push(movement(hash.build, eps, heavier, eps[0]!.id));
    }
    for (const [change, list] of Object.entries(runs)) {
      movementResults[hash.name]![`${n} ${change}`] = list;
      const idealNominal = change === 'remove' ? 1 / n : change === 'add' ? 1 / (n + 1) : 2 / (n + 1) - 1 / n;
      movementRows.push({
        hash: hash.name,
        endpoints: n,
        change,
        runs: list.length,
        'moved % (min / median / max)': spread(list.map((m) => m.moved)),
        'nominal ideal %': idealNominal * 100,
        'moved / ideal (median)': median(list.map((m) => (m.ideal > 0 ? m.moved / m.ideal : 1))),
        'between others % (min / median / max)': spread(list.map((m) => m.between)),
      });
    }
  }
}
printTable(
  `Key movement: ${MOVEMENT_KEYS} keys, ${ID_SETS} sets of endpoint ids, every endpoint removed in turn (ideal = keys the changed endpoint owned or gains)`,
  movementRows,
);
writeResults('balancer-quality', results);
writeResults('balancer-key-movement', movementResults);
