// Discovery at fleet size: what one endpoint change costs the main thread of a caller whose
// governed client follows a service of 1 000 or 10 000 instances. Consul's HTTP API has no
// deltas (each change re-sends the whole health list), so the question is whether the caller
// pays for the fleet or for the change. A real Consul dev agent holds the fleet (registered
// through /v1/txn, one passing check per instance); a mesh's client follows it; the bench
// changes one instance's meta at a time and measures, over a fixed window after each change,
// the main thread's busy time (event-loop utilisation), its CPU, the longest stall of the event
// loop, and the whole process's CPU (the worker thread included), minus the same window after
// a write to a service nobody follows. Modes: discovery on the main thread, and in the worker.
// Build first (npm run build), then: npm run bench -- discovery
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ConsulConnection } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Mesh } from 'meshless';
import { fmtSpread, median, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const CHANGES = scaled(Number(process.env.BENCH_CHANGES ?? 12));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MODES = (process.env.BENCH_MODES ?? 'main,worker').split(',') as ('main' | 'worker')[];
const PER_NODE = 10;

const agent = await ConsulDevAgent.start();
const connection = new ConsulConnection({ address: agent.address });

/** Registers `size` instances of `service` (ten per node), one passing check each, 64 ops per txn. */
async function registerFleet(service: string, size: number): Promise<void> {
  let ops: unknown[] = [];
  const flush = async () => {
    if (ops.length === 0) return;
    const res = await connection.request({ method: 'PUT', path: '/v1/txn', body: JSON.stringify(ops) });
    if (res.status !== 200) throw new Error(`txn: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
    ops = [];
  };
  const add = async (op: unknown) => {
    ops.push(op);
    if (ops.length === 64) await flush();
  };
  for (let i = 0; i < size; i++) {
    const node = `${service}-node-${Math.floor(i / PER_NODE)}`;
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    if (i % PER_NODE === 0) await add({ Node: { Verb: 'set', Node: { Node: node, Address: address } } });
    await add(serviceOp(service, node, address, i, 1));
    await add({
      Check: {
        Verb: 'set',
        Check: {
          Node: node,
          CheckID: `service:${service}-${i}`,
          Name: `Service '${service}' check`,
          Status: 'passing',
          ServiceID: `${service}-${i}`,
          Output: 'HTTP GET http://127.0.0.1/health: 200 OK Output: ok',
        },
      },
    });
  }
  await flush();
}

function serviceOp(service: string, node: string, address: string, i: number, version: number) {
  return {
    Service: {
      Verb: 'set',
      Node: node,
      Service: {
        ID: `${service}-${i}`,
        Service: service,
        Address: address,
        Port: 8080,
        Tags: ['http', `v${i % 3}`],
        Meta: { version: String(version), zone: `zone-${i % 3}`, region: 'eu-1' },
      },
    },
  };
}

async function changeOne(service: string, i: number, version: number): Promise<void> {
  const node = `${service}-node-${Math.floor(i / PER_NODE)}`;
  const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const res = await connection.request({
    method: 'PUT',
    path: '/v1/txn',
    body: JSON.stringify([serviceOp(service, node, address, i, version)]),
  });
  if (res.status !== 200) throw new Error(`txn: HTTP ${res.status}`);
}

interface Window {
  busyMs: number;
  cpuMs: number;
  processCpuMs: number;
  stallMs: number;
}

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();

/** Main-thread busy time, main-thread CPU, process CPU and longest stall over `ms` after `act`. */
async function window(ms: number, act: () => Promise<void>): Promise<Window> {
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.threadCpuUsage();
  const proc0 = process.cpuUsage();
  histogram.reset();
  await act();
  await new Promise((r) => setTimeout(r, ms));
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.threadCpuUsage(cpu0);
  const proc = process.cpuUsage(proc0);
  return {
    busyMs: elu.active,
    cpuMs: (cpu.user + cpu.system) / 1000,
    processCpuMs: (proc.user + proc.system) / 1000,
    // The histogram records how late a 1 ms timer fired: the longest task, less the resolution.
    stallMs: Math.max(0, histogram.max / 1e6 - 1),
  };
}

function endpointsOf(mesh: Mesh, service: string): number {
  return mesh.status().clients.find((c) => c.service === service)?.endpoints ?? 0;
}

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
await registerFleet('idle', 10);
for (const size of SIZES) {
  const service = `fleet-${size}`;
  await registerFleet(service, size);
  // Long enough for Consul to build the answer and the caller to take it in, at 10 000 on 2 cores.
  const windowMs = size >= 5000 ? 700 : 250;
  for (const mode of MODES) {
    const perRun: { busy: number[]; cpu: number[]; proc: number[]; stall: number[] }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const mesh = await createMesh({
        consul: { address: agent.address },
        prefix: `bench-discovery-${mode}-${run}`,
        cacheDir: false,
        logger: 'silent',
        discovery: { thread: mode },
      });
      const client = mesh.client(service);
      const started = performance.now();
      while (endpointsOf(mesh, service) < size) {
        if (performance.now() - started > 60_000) throw new Error(`${service}: no endpoints after 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      void client;
      const w = { busy: [] as number[], cpu: [] as number[], proc: [] as number[], stall: [] as number[] };
      let version = 1;
      for (let c = 0; c < CHANGES; c++) {
        const control = await window(windowMs, () => changeOne('idle', c % 10, 1000 + run * 100 + c));
        const changed = await window(windowMs, () =>
          changeOne(service, (c * 7919) % size, ++version + run * 100),
        );
        w.busy.push(changed.busyMs - control.busyMs);
        w.cpu.push(changed.cpuMs - control.cpuMs);
        w.proc.push(changed.processCpuMs - control.processCpuMs);
        w.stall.push(changed.stallMs);
      }
      await mesh.close();
      perRun.push(w);
    }
    const med = (k: 'busy' | 'cpu' | 'proc' | 'stall') => spread(perRun.map((r) => median(r[k])));
    const row = {
      endpoints: size,
      discovery: mode === 'worker' ? 'worker thread' : 'main thread',
      'main-thread busy ms/change': fmtSpread(med('busy'), 2),
      'main-thread CPU ms/change': fmtSpread(med('cpu'), 2),
      'longest stall ms': fmtSpread(med('stall'), 1),
      'process CPU ms/change': fmtSpread(med('proc'), 1),
    };
    rows.push(row);
    results.push({ size, mode, runs: perRun });
    console.log(JSON.stringify(row));
  }
}
printTable(
  `One endpoint change, main thread vs worker (median of ${CHANGES} changes per run; median (min–max) of ${RUNS} runs)`,
  rows,
);
writeResults('discovery-main-thread', { changes: CHANGES, runs: RUNS, results });
await connection.close();
await agent.stop();
histogram.disable();
