// Fleet propagation: P processes x M subscribers (default 10 x 20 = 200), each process its own event
// loop as a real instance is, on one rule key; W paced writes of the key; for each write the time
// from just before the PUT is sent to the moment each subscriber applied it (wall clock, same
// machine), and to the moment the last of them did ("applied everywhere"). Meshes (createMesh, each
// its own connection, blocking query and RuleStore) and bare blocking GETs (undici, the same
// recursive query on a prefix laid out alike) are all up, and their batches alternate within each
// run. CPU per subscriber per change: the processes' own CPU over a batch minus an idle window of
// the same length, over writes x subscribers. Topologies: one dev agent; 3 servers with 2 client
// agents (subscribers spread over them, writes to one), where bare GETs with ?stale are a third fleet.
// BENCH_PROCESSES, BENCH_PER_PROCESS, BENCH_WRITES, BENCH_GAP_MS, BENCH_RUNS, BENCH_TOPOLOGY=agent|cluster.
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { Fleet } from './fixtures/fleet-processes.ts';
import {
  type ConsulCpu,
  cluster,
  machineBusyUs,
  type SubscriberKind,
  singleAgent,
  type Topology,
} from './fixtures/fleet-topologies.ts';
import { fmtSpread, pairwise, printTable, quantile, scaled, spread, writeResults } from './lib/measure.ts';

const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 10);
const PER_PROCESS = Number(process.env.BENCH_PER_PROCESS ?? 20);
const WRITES = scaled(Number(process.env.BENCH_WRITES ?? 40));
// Above the watch's rate limit interval (10/s), so the limit never delays a wake-up.
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 150);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GOAL_MS = 100;
const SUBSCRIBERS = PROCESSES * PER_PROCESS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const wallNow = () => performance.timeOrigin + performance.now();

interface Batch {
  /** Per write, the last subscriber's latency (Infinity when one never applied it). */
  everywhere: number[];
  /** Every subscriber's latency for every write. */
  each: number[];
  put: number[];
  missing: number;
  cpuUs: number;
  consulCpuUs: ConsulCpu;
  /** CPU the rest of the machine (not this bench's processes) used over the batch, in cores. */
  othersCores: number;
}

interface Run {
  batches: Partial<Record<SubscriberKind, Batch>>;
  /** Each fleet's CPU over an idle window as long as a batch. */
  idleUs: Partial<Record<SubscriberKind, number>>;
  /** Which server each client agent was attached to during the run (Topology.attachments). */
  attachments: string;
}

interface WriteRecord {
  sentAt: number;
  index: number;
  putMs: number;
}

/** Latency of each subscriber for each write: its first stamp at or past the write's ModifyIndex. */
function latencies(writes: readonly WriteRecord[], stamps: readonly number[][]) {
  const everywhere: number[] = [];
  const each: number[] = [];
  let missing = 0;
  for (const w of writes) {
    let last = 0;
    for (const s of stamps) {
      let at = Number.POSITIVE_INFINITY;
      for (let i = 0; i < s.length; i += 2) {
        if (s[i]! >= w.index) {
          at = s[i + 1]! - w.sentAt;
          break;
        }
      }
      if (at === Number.POSITIVE_INFINITY) missing++;
      else each.push(at);
      last = Math.max(last, at);
    }
    everywhere.push(last);
  }
  return { everywhere, each, missing };
}

/** Every live fleet's processes and this one, µs (the bench's own share of the machine). */
const live = new Set<Fleet>();
async function allFleetsUs(): Promise<number> {
  const own = process.cpuUsage();
  const fleets = await Promise.all([...live].map((f) => f.cpuUs()));
  return own.user + own.system + fleets.reduce((s, v) => s + v, 0);
}

const minus = (a: ConsulCpu, b: ConsulCpu): ConsulCpu => ({
  leader: a.leader - b.leader,
  followers: a.followers - b.followers,
  clients: a.clients - b.clients,
});

/** `count` writes GAP_MS apart, timed from just before each PUT to each subscriber's apply. */
async function batch(
  fleet: Fleet,
  kv: ConsulKv,
  key: string,
  topology: Topology,
  version: { n: number },
  count = WRITES,
): Promise<Batch> {
  await fleet.ask('clear');
  const all0 = await allFleetsUs();
  const machine0 = machineBusyUs();
  const cpu0 = await fleet.cpuUs();
  const consul0 = topology.cpu();
  const t0 = performance.now();
  const writes: WriteRecord[] = [];
  for (let w = 0; w < count; w++) {
    await sleep(t0 + w * GAP_MS - performance.now());
    version.n++;
    const sentAt = wallNow();
    await kv.put(key, { timeoutMs: version.n });
    const putMs = wallNow() - sentAt;
    // The PUT answers only `true`: the version's ModifyIndex comes from a read (outside the timing).
    const entry = await kv.get(key);
    if (!entry) throw new Error(`${key}: missing right after a PUT`);
    writes.push({ sentAt, index: entry.modifyIndex, putMs });
  }
  // The window ends one gap after the last write, so it is count x GAP_MS long, like the idle one.
  await sleep(t0 + count * GAP_MS - performance.now());
  const cpuUs = (await fleet.cpuUs()) - cpu0;
  const consulCpuUs = minus(topology.cpu(), consul0);
  const ours =
    (await allFleetsUs()) - all0 + consulCpuUs.leader + consulCpuUs.followers + consulCpuUs.clients;
  const othersCores = Math.max(0, machineBusyUs() - machine0 - ours) / ((performance.now() - t0) * 1000);
  let stamps = await fleet.collect();
  // A slow subscriber still gets its chance to apply the last write (bounded): collected again.
  const lastIndex = writes[writes.length - 1]!.index;
  const behind = () => stamps.some((s) => !(s.length > 0 && s[s.length - 2]! >= lastIndex));
  for (let tries = 0; behind() && tries < 10; tries++) {
    await sleep(500);
    const more = await fleet.collect();
    stamps = stamps.map((s, i) => [...s, ...more[i]!]);
  }
  return { ...latencies(writes, stamps), put: writes.map((w) => w.putMs), cpuUs, consulCpuUs, othersCores };
}

async function measure(topology: Topology): Promise<Run[]> {
  const connection = new ConsulConnection({ address: topology.writeAddress });
  const kv = new ConsulKv(connection, { timeoutMs: 10_000 });
  const fleets = new Map<SubscriberKind, Fleet>();
  const keyOf = (kind: string) => `fleet-${kind}/services/catalog/policies`;
  try {
    for (const kind of topology.kinds) {
      await kv.put(keyOf(kind), { timeoutMs: 1 });
      const started = performance.now();
      const fleet = await Fleet.start({
        kind,
        addresses: topology.subscriberAddresses,
        prefix: `fleet-${kind}`,
        key: keyOf(kind),
        processes: PROCESSES,
        perProcess: PER_PROCESS,
      });
      fleets.set(kind, fleet);
      live.add(fleet);
      const s = ((performance.now() - started) / 1000).toFixed(1);
      process.stderr.write(`${topology.name}: ${SUBSCRIBERS} ${kind} subscribers ready in ${s} s\n`);
    }
    // The meshes keep a marker beside the rules (written after their first listing): the bare
    // prefixes get the same entries, so every answer carries the same bytes.
    await sleep(1000);
    for (const entry of await kv.list('fleet-mesh/')) {
      if (entry.key === keyOf('mesh')) continue;
      for (const kind of topology.kinds.filter((k) => k !== 'mesh'))
        await kv.put(entry.key.replace(/^fleet-mesh\//, `fleet-${kind}/`), entry.value);
    }
    await sleep(300);
    const version = { n: 1 };
    // Warm-up, not counted: the first changes run cold code in every process.
    for (const kind of topology.kinds) await batch(fleets.get(kind)!, kv, keyOf(kind), topology, version, 10);
    const runs: Run[] = [];
    for (let r = 0; r < RUNS; r++) {
      // The order rotates run by run, so a slow spell on the machine does not always hit one kind.
      const order = topology.kinds.map((_, i) => topology.kinds[(i + r) % topology.kinds.length]!);
      const batches: Run['batches'] = {};
      for (const kind of order)
        batches[kind] = await batch(fleets.get(kind)!, kv, keyOf(kind), topology, version);
      // Idle: the same window length with no write, every fleet at once.
      const before = await Promise.all(topology.kinds.map((k) => fleets.get(k)!.cpuUs()));
      await sleep(WRITES * GAP_MS);
      const after = await Promise.all(topology.kinds.map((k) => fleets.get(k)!.cpuUs()));
      const idleUs = Object.fromEntries(topology.kinds.map((k, i) => [k, after[i]! - before[i]!]));
      runs.push({ batches, idleUs, attachments: topology.attachments() });
      process.stderr.write(`${topology.name}: run ${r + 1}/${RUNS} done\n`);
    }
    return runs;
  } finally {
    for (const f of fleets.values()) live.delete(f);
    await Promise.all([...fleets.values()].map((f) => f.stop()));
    await connection.close();
  }
}

const LABEL: Record<SubscriberKind, string> = {
  mesh: 'meshes',
  bare: 'bare blocking GETs',
  'bare-stale': 'bare GETs, ?stale',
};
const latencyRows: Record<string, string | number>[] = [];
const cpuRows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const goal: string[] = [];

function report(topology: Topology, runs: Run[]): void {
  const q = quantile;
  const of = (kind: SubscriberKind) => runs.map((r) => r.batches[kind]!);
  for (const kind of topology.kinds) {
    const row = (measure: string, pick: (b: Batch) => number[]) => {
      const per = of(kind).map(pick);
      return {
        topology: topology.name,
        subscribers: SUBSCRIBERS,
        measure: `${LABEL[kind]}: ${measure}`,
        'p50 ms': fmtSpread(spread(per.map((v) => q(v, 0.5)))),
        'p99 ms': fmtSpread(spread(per.map((v) => q(v, 0.99)))),
        'max ms': fmtSpread(spread(per.map((v) => Math.max(...v)))),
        'p99 pooled ms': q(per.flat(), 0.99),
        missed: of(kind).reduce((s, b) => s + b.missing, 0),
      };
    };
    latencyRows.push(
      row('applied everywhere', (b) => b.everywhere),
      row('each subscriber', (b) => b.each),
    );
    if (kind === 'mesh') latencyRows.push(row('the PUT alone (sent to reply)', (b) => b.put));
  }
  const perChange = (kind: SubscriberKind) =>
    runs.map((r) => (r.batches[kind]!.cpuUs - r.idleUs[kind]!) / (WRITES * SUBSCRIBERS));
  const ratio = pairwise(perChange('mesh'), perChange('bare'), (a, b) => a / b);
  // /proc's 10 ms ticks, summed over a batch: coarse per write, fine over 40.
  const consulMs = (kind: SubscriberKind, role: keyof ConsulCpu) =>
    fmtSpread(spread(of(kind).map((b) => b.consulCpuUs[role] / 1000 / WRITES)));
  for (const kind of topology.kinds) {
    const idle = runs.map((r) => (r.idleUs[kind]! * 1000) / (WRITES * GAP_MS * SUBSCRIBERS));
    cpuRows.push({
      topology: topology.name,
      kind: LABEL[kind],
      'CPU µs per subscriber per change': fmtSpread(spread(perChange(kind))),
      'idle µs per subscriber per s': fmtSpread(spread(idle)),
      'mesh / bare': kind === 'mesh' ? fmtSpread(spread(ratio), 2) : '-',
      'leader CPU ms per write': consulMs(kind, 'leader'),
      'followers ms per write': topology.kinds.includes('bare-stale') ? consulMs(kind, 'followers') : '-',
      'client agents ms per write': topology.hasClients ? consulMs(kind, 'clients') : '-',
      'client agents on': topology.hasClients ? [...new Set(runs.map((r) => r.attachments))].join(', ') : '-',
      "others' CPU, cores": fmtSpread(spread(of(kind).map((b) => b.othersCores)), 2),
    });
  }
  const p99 = quantile(
    of('mesh').flatMap((b) => b.everywhere),
    0.99,
  );
  goal.push(
    `${topology.name}: meshes' p99 applied everywhere ${p99.toFixed(1)} ms at ${SUBSCRIBERS} subscribers (goal < ${GOAL_MS} ms: ${p99 < GOAL_MS ? 'met' : 'missed'}); CPU mesh / bare ${fmtSpread(spread(ratio), 2)} (goal <= 1.2)`,
  );
  // Per run: the per-write figures and summaries (not every subscriber's latency).
  const summary = (b: Batch) => ({
    everywhereMs: b.everywhere,
    putMs: b.put,
    eachP50Ms: quantile(b.each, 0.5),
    eachP99Ms: quantile(b.each, 0.99),
    eachMaxMs: Math.max(...b.each),
    missing: b.missing,
    cpuUs: b.cpuUs,
    consulCpuUs: b.consulCpuUs,
    othersCores: b.othersCores,
  });
  results.push({
    topology: topology.name,
    runs: runs.map((r) => ({
      idleUs: r.idleUs,
      attachments: r.attachments,
      batches: Object.fromEntries(topology.kinds.map((k) => [k, summary(r.batches[k]!)])),
    })),
  });
}

const topologies = [
  { key: 'agent', make: singleAgent },
  { key: 'cluster', make: cluster },
];
// A topology that fails (Consul would not start, a fleet not ready in time) is reported and the
// others still print; the bench then exits non-zero.
let failed = false;
for (const { key, make } of topologies) {
  if (process.env.BENCH_TOPOLOGY && process.env.BENCH_TOPOLOGY !== key) continue;
  try {
    const topology = await make();
    let runs: Run[];
    try {
      runs = await measure(topology);
    } finally {
      await topology.stop();
    }
    report(topology, runs);
  } catch (error) {
    failed = true;
    goal.push(`${key}: not measured: ${(error as Error).message.split('\n')[0]}`);
  }
}

const setup = `${PROCESSES} processes x ${PER_PROCESS} = ${SUBSCRIBERS} subscribers, ${WRITES} writes ${GAP_MS} ms apart per batch, median (min–max) of ${RUNS} runs`;
printTable(
  `Fleet propagation, ms from just before the PUT is sent (p99 of one run's ${WRITES} writes is their max; pooled: over all runs); ${setup}`,
  latencyRows,
);
printTable(
  `Fleet propagation CPU: the subscriber processes' own minus an idle window; Consul's per write, by role; ${setup}`,
  cpuRows,
);
console.log('');
for (const line of goal) console.log(line);
writeResults('fleet-propagation', {
  processes: PROCESSES,
  perProcess: PER_PROCESS,
  writes: WRITES,
  gapMs: GAP_MS,
  runs: RUNS,
  results,
});
if (failed) process.exitCode = 1;
