// Main-thread cost of one discovery update in the balancer stack: stack.update(list) where the
// list differs from the previous one by one endpoint (a new Endpoint object for the same id, as
// the Consul worker's delta merge hands it over: sorted by id, every other object the same), at
// 1 000 and 10 000 endpoints, per algorithm and stack. Each update is timed alone (wall, median
// of the pass) and the pass's thread CPU is divided by its updates; the spread is over passes.
// The list copy with the changed endpoint is made outside the timing (the caller's cost).
// BEFORE holds the figures of the same bench on the code before the incremental paths
// (commit 7f51483), so the table shows both. Since hash tables above a size are built in a
// worker thread, the ring-hash and Maglev add+remove rows time only what update() does before
// it returns; the second table measures a membership change until the new table lands.
// Run: npm run bench -- balancer-update   (BENCH_QUICK=1: fewer updates, for debugging only)
import {
  type BalancerRule,
  createBalancer,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MaglevBalancer,
  MaglevPicker,
  RingHashBalancer,
  RingHashPicker,
} from '@meshless/balancer';
import type { Endpoint } from '@meshless/core';
import { fmtSpread, median, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const SIZES = [1000, 10_000];
const PASSES = 5;
const ZONES = ['eu-1a', 'eu-1b', 'eu-1c'];

interface Case {
  name: string;
  rule: BalancerRule | undefined;
  /** The caller's zone (MeshClient passes its own): turns the locality layer on. */
  local?: boolean;
  /** Endpoint weights 1-3 instead of Consul's default 1 (weighted tables are built). */
  uneven?: boolean;
  /** Updates per pass at 10 000 endpoints (hash tables are expensive to rebuild). */
  updates: number;
  /** What changes: one endpoint object replaced, or one endpoint removed and another added. */
  change?: 'changed' | 'add+remove';
}

const CASES: Case[] = [
  { name: 'default (p2c-peak-ewma, outlier, panic, breaker)', rule: undefined, updates: 60 },
  { name: 'default, add+remove', rule: undefined, updates: 60, change: 'add+remove' },
  { name: 'default + locality (local zone)', rule: undefined, local: true, updates: 60 },
  { name: 'p2c-peak-ewma, weights 1-3', rule: { algorithm: 'p2c-peak-ewma' }, uneven: true, updates: 60 },
  {
    name: 'least-request + locality + slow start',
    rule: { algorithm: 'least-request', slowStartMs: 30_000 },
    local: true,
    updates: 60,
  },
  {
    name: 'round-robin + locality + slow start',
    rule: { algorithm: 'round-robin', slowStartMs: 30_000 },
    local: true,
    updates: 60,
  },
  {
    name: 'weighted-round-robin + locality + slow start',
    rule: { algorithm: 'weighted-round-robin', slowStartMs: 30_000 },
    local: true,
    uneven: true,
    updates: 60,
  },
  { name: 'ring-hash', rule: { algorithm: 'ring-hash', hashOn: { header: 'x-user' } }, updates: 3 },
  { name: 'maglev', rule: { algorithm: 'maglev', hashOn: { header: 'x-user' } }, updates: 10 },
  {
    name: 'ring-hash, add+remove',
    rule: { algorithm: 'ring-hash', hashOn: { header: 'x-user' } },
    updates: 10,
    change: 'add+remove',
  },
  {
    name: 'maglev, add+remove',
    rule: { algorithm: 'maglev', hashOn: { header: 'x-user' } },
    updates: 10,
    change: 'add+remove',
  },
];

/**
 * Figures of this bench before the incremental paths (commit 7f51483, a loaded machine: wall
 * time includes waiting for a core, CPU does not): CPU ms per update, median (min-max) over passes.
 */
const BEFORE: Record<string, string> = {
  // Not run before; the code then rebuilt hash tables in full on any change, as in the rows above.
  'ring-hash, add+remove @ 1000': 'as ring-hash',
  'ring-hash, add+remove @ 10000': 'as ring-hash',
  'maglev, add+remove @ 1000': 'as maglev',
  'maglev, add+remove @ 10000': 'as maglev',
  'default (p2c-peak-ewma, outlier, panic, breaker) @ 1000': '0.345 (0.299–0.377)',
  'default (p2c-peak-ewma, outlier, panic, breaker) @ 10000': '7.404 (5.766–8.230)',
  'default, add+remove @ 1000': '0.204 (0.188–0.287)',
  'default, add+remove @ 10000': '4.676 (3.927–4.799)',
  'default + locality (local zone) @ 1000': '0.458 (0.356–0.541)',
  'default + locality (local zone) @ 10000': '6.721 (5.522–8.231)',
  'p2c-peak-ewma, weights 1-3 @ 1000': '0.380 (0.357–0.509)',
  'p2c-peak-ewma, weights 1-3 @ 10000': '7.539 (5.838–9.578)',
  'least-request + locality + slow start @ 1000': '0.540 (0.486–0.649)',
  'least-request + locality + slow start @ 10000': '9.985 (9.001–11.070)',
  'round-robin + locality + slow start @ 1000': '0.569 (0.524–0.591)',
  'round-robin + locality + slow start @ 10000': '5.727 (5.235–10.402)',
  'weighted-round-robin + locality + slow start @ 1000': '5.219 (3.740–5.682)',
  'weighted-round-robin + locality + slow start @ 10000': '6.063 (5.707–6.784)',
  'ring-hash @ 1000': '67.414 (66.900–73.810)',
  'ring-hash @ 10000': '788.712 (762.705–828.295)',
  'maglev @ 1000': '11.160 (10.727–11.254)',
  'maglev @ 10000': '22.579 (19.842–26.933)',
};

function endpoint(i: number, uneven: boolean, version: number): Endpoint {
  return {
    id: `catalog-${String(i).padStart(6, '0')}@node-${i >> 4}`,
    service: 'catalog',
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 8080,
    tags: ['http'],
    meta: { version: `v${version}` },
    weight: uneven ? 1 + (i % 3) : 1,
    zone: ZONES[i % 3]!,
    region: 'eu-1',
  };
}

const threadCpuUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};

interface PassFigures {
  wallMs: number;
  cpuMs: number;
}

function runPass(c: Case, n: number, updates: number, seed: number): PassFigures {
  const uneven = c.uneven === true;
  // Ids are zero-padded, so index order is id order: the list stays sorted by id.
  let list: Endpoint[] = Array.from({ length: n }, (_, i) => endpoint(i, uneven, 1));
  const stack = createBalancer(c.rule, c.local ? { localZone: 'eu-1a', localRegion: 'eu-1' } : {});
  stack.update(list);
  // add+remove: a spare endpoint (index n, the largest id) joins while endpoint k leaves;
  // next time the spare leaves and k comes back (a new object).
  let spare: Endpoint | undefined;
  let gone = 0;
  const times: number[] = [];
  let cpu = 0;
  let x = seed;
  for (let u = 0; u < updates; u++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const k = x % n;
    let next: Endpoint[];
    if (c.change === 'add+remove') {
      if (spare === undefined) {
        spare = endpoint(n, uneven, 1);
        next = [...list, spare]; // sorted: index n is the largest id
        next.splice(k, 1);
        gone = k;
      } else {
        next = list.slice(0, n - 1);
        next.splice(gone, 0, endpoint(gone, uneven, u + 2));
        spare = undefined;
      }
    } else {
      next = list.slice();
      next[k] = endpoint(k, uneven, u + 2);
    }
    const c0 = threadCpuUs();
    const t0 = process.hrtime.bigint();
    stack.update(next);
    const t1 = process.hrtime.bigint();
    cpu += threadCpuUs() - c0;
    times.push(Number(t1 - t0) / 1e6);
    list = next;
    // A pick keeps the picker honest (a lazily built table must still answer).
    if (stack.picker.pick({ hashKey: `u${u}` }) === undefined) throw new Error('empty pick');
  }
  stack.dispose();
  return { wallMs: median(times), cpuMs: cpu / 1000 / updates };
}

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown> = {};
// BALANCER_UPDATE_CASES=ring: only the cases whose name contains it (for debugging).
const only = process.env.BALANCER_UPDATE_CASES;
for (const c of CASES) {
  if (only !== undefined && !c.name.includes(only)) continue;
  for (const n of SIZES) {
    const updates = scaled(n === 10_000 ? c.updates : c.updates * 5);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let p = 0; p < PASSES; p++) {
      const f = runPass(c, n, updates, 7 + p);
      wall.push(f.wallMs);
      cpu.push(f.cpuMs);
    }
    const key = `${c.name} @ ${n}`;
    results[key] = { wallMs: spread(wall), cpuMs: spread(cpu), updates, passes: PASSES };
    rows.push({
      stack: c.name,
      endpoints: n,
      'before: CPU ms / update': BEFORE[key] ?? '-',
      'wall ms p50 / update': fmtSpread(spread(wall), 3),
      'CPU ms / update': fmtSpread(spread(cpu), 3),
      'updates x passes': `${updates} x ${PASSES}`,
    });
  }
}

printTable('stack.update() with 1 changed endpoint (median (min-max) over passes)', rows);

// A membership change (one endpoint leaves, one joins) of a ring-hash or Maglev balancer, until
// the new table serves: before, built in place (the picker constructor, what the leaf's
// synchronous build runs); after, the leaf's rebuild() with its background build. Per change:
// the longest single block of the event loop (a setImmediate ticker records the gaps between its
// turns, on alternate changes, since it spins), the main thread's CPU (thread CPU from the call
// until the table landed, on the other changes: waiting costs none) and the wall time until the
// new table landed. Median of the pass, then median (min-max) over passes. The first background
// change of a pass starts the thread; it is shown apart and kept out of the steady-state figures.
const MEMBERSHIP_PASSES = 5;

interface Change {
  blockMs: number;
  cpuMs: number;
  landMs: number;
}

async function longestBlock(start: () => void, landed: () => Promise<void>): Promise<number> {
  let done = false;
  let max = 0;
  const t0 = performance.now();
  start();
  let last = performance.now();
  max = last - t0;
  const tick = () => {
    const t = performance.now();
    max = Math.max(max, t - last);
    last = t;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  await landed();
  done = true;
  await new Promise<void>((resolve) => setImmediate(resolve)); // the gap that held the landing
  return max;
}

async function cpuAndLanding(start: () => void, landed: () => Promise<void>): Promise<[number, number]> {
  const c0 = threadCpuUs();
  const t0 = performance.now();
  start();
  await landed();
  return [(threadCpuUs() - c0) / 1000, performance.now() - t0];
}

/** The lists of one pass: each change, endpoint k leaves and a new one joins. */
function* memberships(n: number, changes: number, seed: number): Generator<Endpoint[]> {
  let list: Endpoint[] = Array.from({ length: n }, (_, i) => endpoint(i, false, 1));
  yield list;
  let x = seed;
  for (let u = 0; u < changes; u++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const k = x % n;
    // A new id each time, after every other (ids are zero-padded): the list stays sorted by id.
    const next = [...list.slice(0, k), ...list.slice(k + 1), endpoint(n + u, false, 1)];
    list = next;
    yield list;
  }
}

async function membershipPass(
  algorithm: 'ring-hash' | 'maglev',
  background: boolean,
  n: number,
  changes: number,
  seed: number,
): Promise<{ steady: Change; first: Change | undefined }> {
  const lists = memberships(n, changes + 1, seed);
  const initial = lists.next().value as Endpoint[];
  const random = Math.random;
  const blocks: number[] = [];
  const cpus: number[] = [];
  const lands: number[] = [];
  let first: Change | undefined;
  let u = 0;
  if (background) {
    const b = algorithm === 'ring-hash' ? new RingHashBalancer({ random }) : new MaglevBalancer({ random });
    b.rebuild(initial);
    for (const next of lists) {
      const start = () => b.rebuild(next);
      const landed = () => b.whenSettled();
      if (u === 0) {
        const [cpuMs, landMs] = await cpuAndLanding(start, landed);
        first = { blockMs: Number.NaN, cpuMs, landMs };
      } else if (u % 2 === 1) blocks.push(await longestBlock(start, landed));
      else {
        const [cpuMs, landMs] = await cpuAndLanding(start, landed);
        cpus.push(cpuMs);
        lands.push(landMs);
      }
      if (b.picker.pick({ hashKey: `u${u}` }) === undefined) throw new Error('empty pick');
      u++;
    }
    b.dispose();
  } else {
    const build =
      algorithm === 'ring-hash'
        ? (eps: Endpoint[], prev: unknown) =>
            new RingHashPicker(eps, {}, random, prev instanceof RingHashPicker ? prev : undefined)
        : (eps: Endpoint[], prev: unknown) =>
            new MaglevPicker(
              eps,
              DEFAULT_MAGLEV_TABLE_SIZE,
              random,
              prev instanceof MaglevPicker ? prev : undefined,
            );
    let picker: RingHashPicker | MaglevPicker = build(initial, undefined);
    for (const next of lists) {
      const c0 = threadCpuUs();
      const t0 = performance.now();
      picker = build(next, picker);
      const wall = performance.now() - t0;
      const cpu = (threadCpuUs() - c0) / 1000;
      if (u > 0) {
        blocks.push(wall);
        cpus.push(cpu);
        lands.push(wall);
      }
      if (picker.pick({ hashKey: `u${u}` }) === undefined) throw new Error('empty pick');
      u++;
    }
  }
  return { steady: { blockMs: median(blocks), cpuMs: median(cpus), landMs: median(lands) }, first };
}

const membershipRows: Record<string, string | number>[] = [];
for (const algorithm of ['ring-hash', 'maglev'] as const) {
  if (only !== undefined && !`${algorithm} membership change`.includes(only)) continue;
  for (const n of SIZES) {
    const changes = scaled(algorithm === 'ring-hash' && n === 10_000 ? 12 : 20);
    for (const background of [false, true]) {
      const block: number[] = [];
      const cpu: number[] = [];
      const land: number[] = [];
      const firstLand: number[] = [];
      const firstCpu: number[] = [];
      for (let p = 0; p < MEMBERSHIP_PASSES; p++) {
        const f = await membershipPass(algorithm, background, n, changes, 11 + p);
        block.push(f.steady.blockMs);
        cpu.push(f.steady.cpuMs);
        land.push(f.steady.landMs);
        if (f.first !== undefined) {
          firstLand.push(f.first.landMs);
          firstCpu.push(f.first.cpuMs);
        }
      }
      const key = `${algorithm} membership change @ ${n}, ${background ? 'background' : 'synchronous'}`;
      results[key] = {
        longestBlockMs: spread(block),
        mainThreadCpuMs: spread(cpu),
        landsMs: spread(land),
        firstChange: background
          ? { landsMs: spread(firstLand), mainThreadCpuMs: spread(firstCpu) }
          : undefined,
        changes,
        passes: MEMBERSHIP_PASSES,
      };
      membershipRows.push({
        algorithm,
        endpoints: n,
        build: background ? 'after: background' : 'before: synchronous',
        'longest block ms': fmtSpread(spread(block), 2),
        'main-thread CPU ms': fmtSpread(spread(cpu), 2),
        'lands after ms': fmtSpread(spread(land), 2),
        'first change (thread start): lands ms / CPU ms': background
          ? `${fmtSpread(spread(firstLand), 1)} / ${fmtSpread(spread(firstCpu), 1)}`
          : '-',
        'changes x passes': `${changes} x ${MEMBERSHIP_PASSES}`,
      });
    }
  }
}
printTable(
  'membership change (1 leaves, 1 joins) until the new table serves (median (min-max) over passes)',
  membershipRows,
);
writeResults('balancer-update', results);
