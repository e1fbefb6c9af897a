// Rule propagation CPU per subscriber per change: N meshes (each its own connection, blocking
// query on the prefix, RuleStore, disk copy) against N bare blocking GETs (one undici request and
// JSON.parse of the same answer: what a user's own watcher does), all in this one process.
// The prefix holds KEYS documents (policies of many services, routes, balancer, defaults, like a
// real governance center); each write changes one of them. Per write: CPU from a quiet point
// before the PUT to a quiet point after (every subscriber woke, its disk copy written, its next
// blocking GET sent), minus the same window for a write to a prefix nobody watches (the PUT itself
// and the process's idle), divided by N. Main thread (process.threadCpuUsage on Node 24, the
// event loop's share) and the whole process (process.cpuUsage, GC and I/O threads too).
// Sizes and kinds alternate write by write within each run; runs give the spread.
// BENCH_SUBSCRIBERS=100 one size only; BENCH_KIND=mesh (or mesh-no-disk) runs that kind alone (for --cpu-prof).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh } from 'meshless';
import { Pool } from 'undici';
import { fmtSpread, pairwise, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WRITES = scaled(Number(process.env.BENCH_WRITES ?? 20)); // per kind, per run
const KEYS = 24;
// After the last wake-up: the mesh's disk copy is written 250 ms later; every subscriber's next
// blocking GET is sent well within this.
const SETTLE_MS = 400;
const sizes = process.env.BENCH_SUBSCRIBERS ? [Number(process.env.BENCH_SUBSCRIBERS)] : [20, 100];
// `mesh-no-disk` (cacheDir: false) tells the disk copy's share from the rest of the mesh's path.
type Kind = 'bare' | 'mesh' | 'mesh-no-disk';
const kinds: readonly Kind[] = process.env.BENCH_KIND
  ? [process.env.BENCH_KIND as Kind]
  : ['bare', 'mesh', 'mesh-no-disk'];
const labels: Record<Kind, string> = {
  bare: 'bare blocking GET + JSON.parse',
  mesh: 'mesh (watch, parse, RuleStore, disk copy)',
  'mesh-no-disk': 'mesh, no disk copy (cacheDir: false)',
};

// ~200 connections from one IP: over Consul's default per-client limit of 200.
const agent = await ConsulDevAgent.start({ args: ['-hcl=limits { http_max_conns_per_client = 1000 }'] });
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);
const threadCpu = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;

interface Cpu {
  thread: number;
  process: number;
}
function cpuNow(): Cpu {
  const p = process.cpuUsage();
  const t = threadCpu ? threadCpu() : p;
  return { thread: t.user + t.system, process: p.user + p.system };
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The documents of one governance prefix: KEYS keys, as `kv.put` writes them (pretty JSON). */
async function seed(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  const services = KEYS - 4;
  for (let i = 0; i < services; i++) {
    const key = `${prefix}/services/svc-${i}/policies`;
    keys.push(key);
    await kv.put(key, {
      timeoutMs: 1000 + i,
      retry: { attempts: 3, backoff: { baseMs: 50, maxMs: 500 } },
      breaker: { errorPercent: 50, volume: 20, openMs: 5000 },
      methods: { getThing: { timeoutMs: 200 } },
    });
  }
  await kv.put(`${prefix}/services/svc-0/routes`, {
    subsets: { v1: { meta: { version: 'v1' } }, v2: { meta: { version: 'v2' } } },
    routes: [
      { name: 'canary', match: { headers: { 'x-canary': { exact: 'yes' } } }, to: [{ subset: 'v2' }] },
      {
        name: 'default',
        to: [
          { subset: 'v1', weight: 90 },
          { subset: 'v2', weight: 10 },
        ],
      },
    ],
  });
  await kv.put(`${prefix}/services/svc-0/balancer`, { algorithm: 'least-request' });
  await kv.put(`${prefix}/services/svc-1/inbound`, { rateLimit: { perSecond: 100, burst: 200 } });
  await kv.put(`${prefix}/defaults/policies`, { timeoutMs: 5000 });
  return keys;
}

interface Set {
  readonly n: number;
  readonly kind: Kind | 'none';
  readonly prefix: string;
  readonly keys: string[];
  /** Resolves when every subscriber saw `timeoutMs` on `key`. */
  arm(key: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function subscriberSet(n: number, kind: Set['kind']): Promise<Set> {
  const prefix = `cpu-${kind}-${n}`;
  const keys = await seed(prefix);
  let pending = 0;
  let done: (() => void) | undefined;
  let want: { key: string; timeoutMs: number } | undefined;
  const hit = () => {
    if (--pending === 0) done?.();
  };
  const stops: (() => Promise<unknown>)[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < (kind === 'none' ? 0 : n); i++) {
    if (kind === 'bare') stops.push(bareWatcher(prefix, hit));
    else {
      // Each mesh its own disk copy, as each instance of a fleet writes its own.
      const cacheDir = kind === 'mesh' ? mkdtempSync(join(tmpdir(), 'meshless-cpu-')) : false;
      if (cacheDir) dirs.push(cacheDir);
      const mesh = await createMesh({
        consul: { address: agent.address },
        prefix,
        cacheDir,
        logger: 'silent',
      });
      mesh.onDidChangeRules((c) => {
        if (
          c.key === want?.key &&
          (c.value as { timeoutMs?: number } | undefined)?.timeoutMs === want.timeoutMs
        )
          hit();
      });
      stops.push(() => mesh.close());
    }
  }
  return {
    n,
    kind,
    prefix,
    keys,
    arm(key, timeoutMs) {
      want = { key, timeoutMs };
      pending = kind === 'none' ? 0 : n;
      return pending === 0 ? Promise.resolve() : new Promise<void>((r) => (done = r));
    },
    async stop() {
      await Promise.all(stops.map((s) => s()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A bare blocking GET loop on the prefix: request, read the body, JSON.parse it. */
function bareWatcher(prefix: string, onWake: () => void): () => Promise<void> {
  const pool = new Pool(`http://${agent.address}`);
  let stopped = false;
  const loop = (async () => {
    let index = 0;
    while (!stopped) {
      const path = `/v1/kv/${prefix}/?recurse${index ? `&index=${index}&wait=60s` : ''}`;
      try {
        const res = await pool.request({ method: 'GET', path });
        const list = JSON.parse(await res.body.text()) as unknown[];
        const next = Number(res.headers['x-consul-index']);
        if (index && next !== index && list.length > 0) onWake();
        index = next;
      } catch {
        if (!stopped) await wait(50);
      }
    }
  })();
  return async () => {
    stopped = true;
    await pool.destroy();
    await loop.catch(() => {});
  };
}

let version = 10_000;
/** One write to `set` between quiet points: CPU of the window (µs). */
async function measuredWrite(set: Set, w: number): Promise<Cpu> {
  const key = set.keys[w % set.keys.length]!;
  const timeoutMs = ++version;
  const all = set.arm(key, timeoutMs);
  const before = cpuNow();
  await kv.put(key, { timeoutMs, retry: { attempts: 3, backoff: { baseMs: 50, maxMs: 500 } } });
  await all;
  await wait(SETTLE_MS);
  const after = cpuNow();
  return { thread: after.thread - before.thread, process: after.process - before.process };
}

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
for (const n of sizes) {
  const none = await subscriberSet(n, 'none');
  const sets = await Promise.all(kinds.map((k) => subscriberSet(n, k)));
  await wait(1000);
  // Per run, per kind: net µs per subscriber per change (mean over the run's writes).
  const net = new Map<string, { thread: number[]; process: number[] }>(
    kinds.map((k) => [k, { thread: [], process: [] }]),
  );
  const baseline: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const sums = new Map<string, Cpu>([...kinds, 'none'].map((k) => [k, { thread: 0, process: 0 }]));
    for (let w = 0; w < WRITES; w++) {
      for (const set of [none, ...sets]) {
        const c = await measuredWrite(set, w);
        const s = sums.get(set.kind)!;
        s.thread += c.thread;
        s.process += c.process;
      }
    }
    const base = sums.get('none')!;
    baseline.push(base.thread / WRITES);
    for (const k of kinds) {
      const s = sums.get(k)!;
      net.get(k)!.thread.push((s.thread - base.thread) / WRITES / n);
      net.get(k)!.process.push((s.process - base.process) / WRITES / n);
    }
    process.stderr.write(`n=${n} run ${run + 1}/${RUNS}\n`);
  }
  for (const set of [none, ...sets]) await set.stop();
  const bare = net.get('bare');
  for (const k of kinds) {
    const v = net.get(k)!;
    rows.push({
      subscribers: n,
      kind: labels[k],
      'main thread µs': fmtSpread(spread(v.thread)),
      'process µs': fmtSpread(spread(v.process)),
      'mesh / bare (main thread)':
        bare && k !== 'bare' ? fmtSpread(spread(pairwise(v.thread, bare.thread, (a, b) => a / b)), 2) : '',
      'mesh / bare (process)':
        bare && k !== 'bare' ? fmtSpread(spread(pairwise(v.process, bare.process, (a, b) => a / b)), 2) : '',
    });
  }
  results.push({
    subscribers: n,
    keys: KEYS,
    writesPerRun: WRITES,
    runs: RUNS,
    baselineThreadUs: baseline,
    perSubscriberUs: Object.fromEntries(net),
  });
}

printTable(
  `Rule propagation CPU per subscriber per change (µs; median (min–max) over ${RUNS} runs of ${WRITES} writes per kind; ${KEYS} keys under the prefix, one changed per write; the PUT and idle subtracted)`,
  rows,
);
writeResults('propagation-cpu', { rows, results });
await connection.close();
await agent.stop();
