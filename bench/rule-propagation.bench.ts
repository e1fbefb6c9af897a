// Rule propagation: time from a KV PUT returning to the rule being applied in 1, 10 and 100
// subscribers (each a full mesh: its own connection, blocking query and RuleStore), beside the
// time a bare blocking GET takes to wake up for the same write, measured in the same run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Mesh, policiesSection } from 'meshless';
import { Pool } from 'undici';
import { printTable, quantile, writeResults } from './lib/measure.ts';

const WRITES = Number(process.env.BENCH_WRITES ?? 60);
const GAP_MS = 120; // below the watch's rate limit (10/s sustained), so it never delays a wake-up
// One process holding 100 subscribers opens ~100 connections from one IP; Consul's default
// per-client limit would refuse some (real instances are separate processes, usually hosts).
const agent = await ConsulDevAgent.start({ args: ['-hcl=limits { http_max_conns_per_client = 1000 }'] });
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);
const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];

/** A bare blocking GET loop on the same key: the floor any watcher can reach. */
function bareWatcher(prefix: string, onWake: (t: number) => void) {
  const pool = new Pool(`http://${agent.address}`);
  let stopped = false;
  const loop = (async () => {
    let index = 0;
    while (!stopped) {
      const path = `/v1/kv/${prefix}/?recurse${index ? `&index=${index}&wait=60s` : ''}`;
      try {
        const res = await pool.request({ method: 'GET', path });
        await res.body.arrayBuffer();
        const t = performance.now();
        const next = Number(res.headers['x-consul-index']);
        if (index && next !== index) onWake(t);
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

for (const n of [1, 10, 100]) {
  const prefix = `bench-${n}`;
  const key = `${prefix}/services/catalog/policies`;
  await kv.put(key, { timeoutMs: 1 });
  const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-bench-'));
  const meshes: Mesh[] = [];
  for (let i = 0; i < n; i++) {
    meshes.push(await createMesh({ consul: { address: agent.address }, prefix, cacheDir, logger: 'silent' }));
  }
  let putDone = 0;
  let expected = 0;
  let applied: number[] = [];
  let pending = 0;
  let resolveAll: (() => void) | undefined;
  for (const m of meshes) {
    m.rules.watch(policiesSection, 'catalog', (v) => {
      if (v?.timeoutMs !== expected) return;
      applied.push(performance.now());
      if (--pending === 0) resolveAll?.();
    });
  }
  let bareAt = 0;
  const bare = bareWatcher(prefix, (t) => {
    bareAt = t;
  });
  await new Promise((r) => setTimeout(r, 300));

  const meshLat: number[] = [];
  const lastLat: number[] = [];
  const bareLat: number[] = [];
  for (let w = 2; w < WRITES + 2; w++) {
    expected = w;
    applied = [];
    pending = n;
    bareAt = 0;
    const all = new Promise<void>((r) => {
      resolveAll = r;
    });
    await kv.put(key, { timeoutMs: w });
    putDone = performance.now();
    await all;
    while (bareAt === 0) await new Promise((r) => setImmediate(r));
    for (const t of applied) meshLat.push(t - putDone);
    lastLat.push(Math.max(...applied) - putDone);
    bareLat.push(bareAt - putDone);
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  await bare.stop();
  await Promise.all(meshes.map((m) => m.close()));

  process.stderr.write(`n=${n} done\n`);
  const bareP99 = quantile(bareLat, 0.99);
  rows.push(
    {
      subscribers: n,
      measure: 'bare blocking GET wake-up',
      p50_ms: quantile(bareLat, 0.5),
      p99_ms: bareP99,
      max_ms: Math.max(...bareLat),
      'p99 - bare p99 (ms)': 0,
    },
    {
      subscribers: n,
      measure: 'mesh: each subscriber applied',
      p50_ms: quantile(meshLat, 0.5),
      p99_ms: quantile(meshLat, 0.99),
      max_ms: Math.max(...meshLat),
      'p99 - bare p99 (ms)': quantile(meshLat, 0.99) - bareP99,
    },
    {
      subscribers: n,
      measure: 'mesh: last of all subscribers',
      p50_ms: quantile(lastLat, 0.5),
      p99_ms: quantile(lastLat, 0.99),
      max_ms: Math.max(...lastLat),
      'p99 - bare p99 (ms)': quantile(lastLat, 0.99) - bareP99,
    },
  );
  results.push({ subscribers: n, writes: WRITES, bareLat, meshLat, lastLat });
}

printTable(`Rule propagation, ${WRITES} writes per row, times from the PUT returning (ms)`, rows);
writeResults('rule-propagation', { rows, results });
await connection.close();
await agent.stop();
