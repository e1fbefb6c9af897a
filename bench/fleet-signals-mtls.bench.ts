// Fleet signals from zero-trust instances (issue 16): what a read of N instances costs over mutual
// TLS (the reader's own Connect certificate, intentions checked per request by each instance) vs
// over plain HTTP, on a real Consul dev agent (Connect on, ACLs off: intentions allow by default).
// Each instance is a mesh serving with mesh.createServer (strict mTLS, or zero trust off), in this
// process: the CPU figure is the reader's and the instances' together. Per run, each subject gets
// a fresh FleetSignals: the cold read (the reader's leaf and roots from the agent, one TLS
// handshake per instance, two scrapes) and then `READS` warm reads (one scrape each over kept-alive
// connections, plus the catalog query both pay); subjects alternate read by read.
// BENCH_INSTANCES, BENCH_READS, BENCH_RUNS shorten a run.
import type { Server } from 'node:http';
import { FleetSignals } from '@meshless/cli';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { createMesh, type Mesh } from 'meshless';
import {
  fmtSpread,
  median,
  pairwise,
  printTable,
  quantile,
  scaled,
  spread,
  writeResults,
} from './lib/measure.ts';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 8);
const READS = scaled(Number(process.env.BENCH_READS ?? 100));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
async function cleanup(): Promise<void> {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
}

async function startInstance(address: string, name: string, zeroTrust: boolean): Promise<Mesh> {
  const port = await freePort();
  const mesh = await createMesh({
    consul: { address },
    cacheDir: false,
    logger: 'silent',
    env: false,
    service: { name, port, address: '127.0.0.1', ttlMs: 5000 },
    zeroTrust: zeroTrust ? { inbound: 'strict' } : false,
  });
  const server: Server = mesh.createServer(
    mesh.serve((_req, res) => {
      res.end('ok');
    }),
  );
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await mesh.close();
  });
  // Some traffic, so each answer has rows to carry.
  for (let i = 0; i < 20; i++)
    await (await fetch(`http://127.0.0.1:${port}/x${i % 4}`)).text().catch(() => {});
  return mesh;
}

interface Row {
  cold: number[];
  p50: number[];
  p95: number[];
  cpuUs: number[];
}

try {
  const agent = await ConsulDevAgent.start();
  cleanups.push(() => agent.stop());
  const subjects = [
    { name: 'plain HTTP', service: 'sig-plain', zeroTrust: false },
    { name: 'mutual TLS', service: 'sig-mtls', zeroTrust: true },
  ];
  for (const s of subjects) {
    for (let i = 0; i < INSTANCES; i++) await startInstance(agent.address, s.service, s.zeroTrust);
  }
  const rows = new Map<string, Row>(subjects.map((s) => [s.name, { cold: [], p50: [], p95: [], cpuUs: [] }]));
  for (let run = 0; run < RUNS; run++) {
    const readers = subjects.map((s) => ({
      s,
      reader: new FleetSignals({ consul: { address: agent.address }, services: [s.service] }),
      times: [] as number[],
      cpuUs: 0,
    }));
    // The order rotates per run, so neither subject always goes first.
    if (run % 2 === 1) readers.reverse();
    for (const r of readers) {
      const t0 = performance.now();
      const report = await r.reader.read(1);
      rows.get(r.s.name)!.cold.push(performance.now() - t0);
      const ok = report.instances.filter((i) => i.ok).length;
      if (ok !== INSTANCES)
        throw new Error(`${r.s.name}: ${ok} of ${INSTANCES} answered: ${report.instances[0]?.error}`);
    }
    for (let i = 0; i < READS; i++) {
      for (const r of readers) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const report = await r.reader.read(1);
        r.times.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        r.cpuUs += c.user + c.system;
        if (report.instances.some((x) => !x.ok)) throw new Error(`${r.s.name}: an instance did not answer`);
      }
    }
    for (const r of readers) {
      const row = rows.get(r.s.name)!;
      row.p50.push(quantile(r.times, 0.5));
      row.p95.push(quantile(r.times, 0.95));
      row.cpuUs.push(r.cpuUs / READS);
      await r.reader.close();
    }
  }
  const plain = rows.get('plain HTTP')!;
  const table = subjects.map((s) => {
    const row = rows.get(s.name)!;
    return {
      transport: s.name,
      instances: INSTANCES,
      'cold read ms': fmtSpread(spread(row.cold)),
      'warm read p50 ms': fmtSpread(spread(row.p50)),
      'warm read p95 ms': fmtSpread(spread(row.p95)),
      'CPU per read ms': fmtSpread(spread(row.cpuUs.map((u) => u / 1000))),
      'p50 vs plain': fmtSpread(spread(pairwise(row.p50, plain.p50, (a, b) => a / b)), 2),
    };
  });
  printTable(
    `Fleet signals read of ${INSTANCES} instances, plain vs mutual TLS (median (min–max) over ${RUNS} runs, ${READS} warm reads each)`,
    table,
  );
  writeResults('fleet-signals-mtls', {
    instances: INSTANCES,
    reads: READS,
    runs: RUNS,
    rows: Object.fromEntries(rows),
    medians: Object.fromEntries(
      [...rows].map(([k, v]) => [k, { coldMs: median(v.cold), p50Ms: median(v.p50) }]),
    ),
  });
} finally {
  await cleanup();
}
