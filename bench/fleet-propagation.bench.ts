// Fleet propagation: P processes x M subscribers (default 10 x 20 = 200), each process its own event
// loop as a real instance is, on one rule key; W paced writes of the key; for each write the time
// from just before the PUT is sent to the moment each subscriber applied it (wall clock, same
// machine), and to the moment the last of them did ("applied everywhere"). Meshes (createMesh, each
// its own connection, blocking query and RuleStore) and bare blocking GETs (undici, the same
// recursive query on a prefix laid out alike) are both up, and their batches alternate within each
// run. CPU per subscriber per change: the processes' own CPU over a batch minus an idle window of
// the same length, over writes x subscribers. Topologies: one dev agent; a 3-server cluster with
// client agents (subscribers spread over them, writes to one), when ConsulCluster is there.
// BENCH_PROCESSES, BENCH_PER_PROCESS, BENCH_WRITES, BENCH_GAP_MS, BENCH_RUNS, BENCH_TOPOLOGY.
import { loadavg } from 'node:os';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import * as consulTesting from '@meshless/consul/testing';
import { Fleet } from './fixtures/fleet-processes.ts';
import { fmtSpread, pairwise, printTable, quantile, scaled, spread, writeResults } from './lib/measure.ts';
import { processCpuUs } from './lib/proc-cpu.ts';

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

interface Topology {
  name: string;
  /** Where the parent writes. */
  writeAddress: string;
  /** The agents subscribers talk to, process by process. */
  subscriberAddresses: string[];
  /** Every Consul process, for its CPU. */
  consulPids: () => number[];
  stop(): Promise<void>;
}

// Several hundred connections from 127.0.0.1 (Consul's default per-client limit is 200).
const CONNS = '-hcl=limits { http_max_conns_per_client = 4000 }';

async function singleAgent(): Promise<Topology> {
  const agent = await consulTesting.ConsulDevAgent.start({ args: [CONNS] });
  return {
    name: '1 dev agent',
    writeAddress: agent.address,
    subscriberAddresses: [agent.address],
    consulPids: () => (agent.pid ? [agent.pid] : []),
    stop: () => agent.stop(),
  };
}

interface Run {
  mesh: Batch;
  bare: Batch;
  idleMeshUs: number;
  idleBareUs: number;
  /** The machine's 1-minute load average as the run began (other work shares the two cores). */
  loadAvg: number;
}

interface WriteRecord {
  sentAt: number;
  index: number;
  putMs: number;
}

interface Batch {
  /** Per write, the last subscriber's latency (Infinity when one never applied it). */
  everywhere: number[];
  /** Every subscriber's latency for every write. */
  each: number[];
  put: number[];
  missing: number;
  cpuUs: number;
  consulCpuUs: number;
  windowMs: number;
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

async function batch(
  fleet: Fleet,
  kv: ConsulKv,
  key: string,
  topology: Topology,
  version: { n: number },
  count = WRITES,
): Promise<Batch> {
  await fleet.ask('clear');
  const cpu0 = await fleet.cpuUs();
  const consul0 = topology.consulPids().reduce((s, p) => s + processCpuUs(p), 0);
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
  const windowMs = performance.now() - t0;
  const cpuUs = (await fleet.cpuUs()) - cpu0;
  const consulCpuUs = topology.consulPids().reduce((s, p) => s + processCpuUs(p), 0) - consul0;
  let stamps = await fleet.collect();
  // A slow subscriber still gets its chance to apply the last write (bounded): collected again.
  const lastIndex = writes[writes.length - 1]!.index;
  const behind = () => stamps.some((s) => !(s.length > 0 && s[s.length - 2]! >= lastIndex));
  for (let tries = 0; behind() && tries < 10; tries++) {
    await sleep(500);
    const more = await fleet.collect();
    stamps = stamps.map((s, i) => [...s, ...more[i]!]);
  }
  const l = latencies(writes, stamps);
  return { ...l, put: writes.map((w) => w.putMs), cpuUs, consulCpuUs, windowMs };
}

async function measure(topology: Topology) {
  const connection = new ConsulConnection({ address: topology.writeAddress });
  const kv = new ConsulKv(connection, { timeoutMs: 10_000 });
  const fleets: Record<'mesh' | 'bare', Fleet | undefined> = { mesh: undefined, bare: undefined };
  const keyOf = (kind: string) => `fleet-${kind}/services/catalog/policies`;
  try {
    for (const kind of ['mesh', 'bare'] as const) {
      await kv.put(keyOf(kind), { timeoutMs: 1 });
      const started = performance.now();
      fleets[kind] = await Fleet.start({
        kind,
        addresses: topology.subscriberAddresses,
        prefix: `fleet-${kind}`,
        key: keyOf(kind),
        processes: PROCESSES,
        perProcess: PER_PROCESS,
      });
      process.stderr.write(
        `${topology.name}: ${SUBSCRIBERS} ${kind} subscribers ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
    // The meshes keep a marker beside the rules (written after their first listing): the bare
    // prefix gets the same entries, so both answers carry the same bytes.
    await sleep(1000);
    for (const entry of await kv.list('fleet-mesh/')) {
      if (entry.key !== keyOf('mesh'))
        await kv.put(entry.key.replace(/^fleet-mesh\//, 'fleet-bare/'), entry.value);
    }
    await sleep(300);
    const version = { n: 1 };
    // Warm-up, not counted: the first changes run cold code in every process.
    for (const kind of ['mesh', 'bare'] as const)
      await batch(fleets[kind]!, kv, keyOf(kind), topology, version, 10);
    const runs: Run[] = [];
    for (let r = 0; r < RUNS; r++) {
      const loadAvg = loadavg()[0]!;
      const order = r % 2 === 0 ? (['mesh', 'bare'] as const) : (['bare', 'mesh'] as const);
      const got: Partial<Record<'mesh' | 'bare', Batch>> = {};
      for (const kind of order) got[kind] = await batch(fleets[kind]!, kv, keyOf(kind), topology, version);
      // Idle: the same window length with no write, both fleets at once.
      const m0 = await fleets.mesh!.cpuUs();
      const b0 = await fleets.bare!.cpuUs();
      await sleep(WRITES * GAP_MS);
      const idleMeshUs = (await fleets.mesh!.cpuUs()) - m0;
      const idleBareUs = (await fleets.bare!.cpuUs()) - b0;
      runs.push({ mesh: got.mesh!, bare: got.bare!, idleMeshUs, idleBareUs, loadAvg });
      process.stderr.write(`${topology.name}: run ${r + 1}/${RUNS} done\n`);
    }
    return runs;
  } finally {
    await Promise.all([fleets.mesh?.stop(), fleets.bare?.stop()]);
    await connection.close();
  }
}

const topologies: (() => Promise<Topology>)[] = [singleAgent];
const only = process.env.BENCH_TOPOLOGY;
const latencyRows: Record<string, string | number>[] = [];
const cpuRows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const goal: string[] = [];
for (const make of topologies) {
  const topology = await make();
  if (only && !topology.name.includes(only)) {
    await topology.stop();
    continue;
  }
  let runs: Run[];
  try {
    runs = await measure(topology);
  } finally {
    await topology.stop();
  }
  const q = (values: number[], p: number) => quantile(values, p);
  for (const kind of ['mesh', 'bare'] as const) {
    const label = kind === 'mesh' ? 'meshes' : 'bare blocking GETs';
    const row = (measure: string, pick: (b: Batch) => number[]) => {
      const per = runs.map((r) => pick(r[kind]));
      const pooled = per.flat();
      return {
        topology: topology.name,
        subscribers: SUBSCRIBERS,
        measure: `${label}: ${measure}`,
        'p50 ms': fmtSpread(spread(per.map((v) => q(v, 0.5)))),
        'p99 ms': fmtSpread(spread(per.map((v) => q(v, 0.99)))),
        'max ms': fmtSpread(spread(per.map((v) => Math.max(...v)))),
        'p99 pooled ms': q(pooled, 0.99),
        missed: runs.reduce((s, r) => s + r[kind].missing, 0),
      };
    };
    latencyRows.push(
      row('applied everywhere (last of all)', (b) => b.everywhere),
      row('each subscriber', (b) => b.each),
    );
    if (kind === 'mesh') latencyRows.push(row('the PUT alone (sent to reply)', (b) => b.put));
  }
  const perChange = (kind: 'mesh' | 'bare') =>
    runs.map(
      (r) => (r[kind].cpuUs - (kind === 'mesh' ? r.idleMeshUs : r.idleBareUs)) / (WRITES * SUBSCRIBERS),
    );
  const mesh = perChange('mesh');
  const bare = perChange('bare');
  for (const kind of ['mesh', 'bare'] as const) {
    cpuRows.push({
      topology: topology.name,
      subscribers: SUBSCRIBERS,
      kind,
      'CPU µs per subscriber per change': fmtSpread(spread(perChange(kind))),
      'idle CPU µs per subscriber per s': fmtSpread(
        spread(
          runs.map(
            (r) => ((kind === 'mesh' ? r.idleMeshUs : r.idleBareUs) * 1000) / (WRITES * GAP_MS * SUBSCRIBERS),
          ),
        ),
      ),
      'mesh / bare': kind === 'mesh' ? fmtSpread(spread(pairwise(mesh, bare, (a, b) => a / b))) : '-',
      'Consul CPU µs per write (all agents)': fmtSpread(
        spread(runs.map((r) => r[kind].consulCpuUs / WRITES)),
      ),
      'machine load avg': fmtSpread(spread(runs.map((r) => r.loadAvg))),
    });
  }
  const p99 = quantile(
    runs.flatMap((r) => r.mesh.everywhere),
    0.99,
  );
  goal.push(
    `${topology.name}: mesh p99 applied everywhere ${p99.toFixed(1)} ms at ${SUBSCRIBERS} subscribers (goal < ${GOAL_MS} ms: ${p99 < GOAL_MS ? 'met' : 'missed'}); CPU mesh/bare ${fmtSpread(spread(pairwise(mesh, bare, (a, b) => a / b)), 2)} (goal <= 1.2)`,
  );
  // Per run: the summary, the per-write figures (not every subscriber's).
  const summary = (b: Batch) => ({
    everywhereMs: b.everywhere,
    putMs: b.put,
    eachP50Ms: quantile(b.each, 0.5),
    eachP99Ms: quantile(b.each, 0.99),
    eachMaxMs: Math.max(...b.each),
    missing: b.missing,
    cpuUs: b.cpuUs,
    consulCpuUs: b.consulCpuUs,
    windowMs: b.windowMs,
  });
  results.push({
    topology: topology.name,
    runs: runs.map((r) => ({ ...r, mesh: summary(r.mesh), bare: summary(r.bare) })),
  });
}

const setup = `${PROCESSES} processes x ${PER_PROCESS} = ${SUBSCRIBERS} subscribers, ${WRITES} writes ${GAP_MS} ms apart per batch, median (min–max) of ${RUNS} runs`;
printTable(`Fleet propagation, ms from just before the PUT is sent; ${setup}`, latencyRows);
printTable(`Fleet propagation CPU (the subscriber processes' own, minus an idle window); ${setup}`, cpuRows);
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
