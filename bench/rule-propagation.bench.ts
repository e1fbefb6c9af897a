// Rule propagation: time from just before a KV PUT is sent to the rule being applied in 1, 10 and 100
// subscribers (each a full mesh: its own connection, blocking query and RuleStore), beside the
// same number of bare blocking GETs waking up for the same kind of write, measured in the same run.
// Both sets live in this one process (so with 100, the 100th waits for the other 99 on the
// event loop, as it would not in a real fleet of separate processes); their writes alternate in rounds.
// The clock starts before the PUT, as an operator's does: the write's own round trip is part of
// it (and shown alone in its own row), and a subscriber may wake before the PUT's reply arrives.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, policiesSection } from 'meshless';
import { Pool } from 'undici';
import { printTable, quantile, writeResults } from './lib/measure.ts';

const WRITES = Number(process.env.BENCH_WRITES ?? 60);
const GAP_MS = 120; // below the watch's rate limit (10/s sustained), so it never delays a wake-up
// One process holding 100 subscribers opens ~100 connections from one IP; Consul's default
// per-client limit (200) is close, so this bench's own agent raises it.
const agent = await ConsulDevAgent.start({ args: ['-hcl=limits { http_max_conns_per_client = 1000 }'] });
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);
const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];

interface Subscriber {
  stop(): Promise<void>;
}

/** A bare blocking GET loop on the prefix: the floor any watcher can reach. */
function bareWatcher(prefix: string, onWake: () => void): Subscriber {
  const pool = new Pool(`http://${agent.address}`);
  let stopped = false;
  const loop = (async () => {
    let index = 0;
    while (!stopped) {
      const path = `/v1/kv/${prefix}/?recurse${index ? `&index=${index}&wait=60s` : ''}`;
      try {
        const res = await pool.request({ method: 'GET', path });
        await res.body.arrayBuffer();
        const next = Number(res.headers['x-consul-index']);
        if (index && next !== index) onWake();
        index = next;
      } catch {
        if (!stopped) await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await pool.destroy();
      await loop.catch(() => {});
    },
  };
}

async function meshSubscriber(prefix: string, cacheDir: string, onApplied: (timeoutMs: number) => void) {
  const mesh = await createMesh({ consul: { address: agent.address }, prefix, cacheDir, logger: 'silent' });
  mesh.rules.watch(policiesSection, 'catalog', (v) => {
    if (v?.timeoutMs !== undefined) onApplied(v.timeoutMs);
  });
  return { stop: () => mesh.close() };
}

interface Tally {
  each: number[];
  last: number[];
  /** The PUT's own round trip (sent to reply). */
  put: number[];
  cpuUs: number;
  writes: number;
}

/** One set of `n` subscribers on its own prefix, written to and timed one write at a time. */
async function subscriberSet(n: number, kind: 'bare' | 'mesh') {
  const prefix = `bench-${kind}-${n}`;
  const key = `${prefix}/services/catalog/policies`;
  await kv.put(key, { timeoutMs: 1 });
  const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-bench-'));
  let expected = 0;
  let stamps: number[] = [];
  let pending = 0;
  let resolveAll: (() => void) | undefined;
  const hit = () => {
    stamps.push(performance.now());
    if (--pending === 0) resolveAll?.();
  };
  const subscribers: Subscriber[] = [];
  for (let i = 0; i < n; i++) {
    subscribers.push(
      kind === 'bare'
        ? bareWatcher(prefix, hit)
        : await meshSubscriber(prefix, cacheDir, (v) => {
            if (v === expected) hit();
          }),
    );
  }
  const tally: Tally = { each: [], last: [], put: [], cpuUs: 0, writes: 0 };
  let version = 1;
  return {
    tally,
    /** One write, timed from just before the PUT is sent to each subscriber's wake-up. */
    async write(): Promise<void> {
      expected = ++version;
      stamps = [];
      pending = n;
      const all = new Promise<void>((r) => {
        resolveAll = r;
      });
      const cpu = process.cpuUsage();
      const sent = performance.now();
      await kv.put(key, { timeoutMs: version });
      tally.put.push(performance.now() - sent);
      await all;
      const used = process.cpuUsage(cpu);
      tally.cpuUs += used.user + used.system;
      tally.writes++;
      for (const t of stamps) tally.each.push(t - sent);
      tally.last.push(Math.max(...stamps) - sent);
      await new Promise((r) => setTimeout(r, GAP_MS));
    },
    stop: () => Promise.all(subscribers.map((s) => s.stop())),
  };
}

// Both sets stay up, and the writes alternate between them in rounds, so load from elsewhere on
// the machine (Consul itself, GC) hits both alike. `BENCH_SUBSCRIBERS=100` runs one size only
// (e.g. under --cpu-prof); `BENCH_KIND=mesh` leaves the bare set out (to profile the mesh side).
const ROUNDS = 6;
const sizes = process.env.BENCH_SUBSCRIBERS ? [Number(process.env.BENCH_SUBSCRIBERS)] : [1, 10, 100];
for (const n of sizes) {
  const sets = [await subscriberSet(n, 'mesh')];
  if (process.env.BENCH_KIND !== 'mesh') sets.unshift(await subscriberSet(n, 'bare'));
  await new Promise((r) => setTimeout(r, 500));
  for (let r = 0; r < ROUNDS; r++) {
    for (const set of sets) for (let w = 0; w < WRITES / ROUNDS; w++) await set.write();
  }
  for (const set of sets) await set.stop();
  const perWake = (t: Tally) => ({ ...t, cpuUsPerWake: t.cpuUs / (t.writes * n) });
  const mesh = perWake(sets[sets.length - 1]!.tally);
  const bare =
    sets.length > 1 ? perWake(sets[0]!.tally) : { each: [0], last: [0], put: [0], cpuUsPerWake: 0 };
  process.stderr.write(`n=${n} done\n`);
  const row = (measure: string, values: number[], base: number[], cpuUsPerWake?: number) => ({
    subscribers: n,
    measure,
    p50_ms: quantile(values, 0.5),
    p99_ms: quantile(values, 0.99),
    max_ms: Math.max(...values),
    'p99 - bare p99 (ms)': quantile(values, 0.99) - quantile(base, 0.99),
    'CPU µs per wake-up': cpuUsPerWake ?? '',
  });
  rows.push(
    row('the PUT alone (sent to reply), mesh writes', mesh.put, bare.put),
    row('bare blocking GETs: each woke up', bare.each, bare.each, bare.cpuUsPerWake),
    row('meshes: each applied the rule', mesh.each, bare.each, mesh.cpuUsPerWake),
    row('bare blocking GETs: last of all', bare.last, bare.last),
    row('meshes: last of all applied', mesh.last, bare.last),
  );
  results.push({ subscribers: n, writes: WRITES, bare, mesh });
}

printTable(`Rule propagation, ${WRITES} writes per row, times from just before the PUT is sent (ms)`, rows);
writeResults('rule-propagation', { rows, results });
await connection.close();
await agent.stop();
