// Discovery at fleet size: what one endpoint change costs the main thread of a caller whose
// governed client follows a service of 1 000 or 10 000 instances. Consul's HTTP API has no
// deltas (each change re-sends the whole health list), so the question is whether the caller
// pays for the fleet or for the change. A real Consul dev agent holds the fleet (registered
// through /v1/txn, one passing check per instance); a governed client (MeshClient, the default
// balancer) follows it through a Discovery; the bench changes one instance's meta at a time and
// measures, from before the write until the client has taken the change in: the main thread's
// CPU (process.threadCpuUsage) and the whole process's (the worker included), each minus a
// write nobody follows; and the client's own update time (its change listener, synchronous). Modes: discovery on the
// main thread, and in the worker thread.
// Build first (npm run build), then: npm run bench -- discovery
import { performance } from 'node:perf_hooks';
import { BreakerRegistry } from '@meshless/breaker';
import { ConsulConnection, Discovery } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import {
  builtinSections,
  consoleLogger,
  createMesh,
  MeshClient,
  noopCallObserver,
  RuleStore,
  systemClock,
  systemRandom,
} from 'meshless';
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

interface Sample {
  cpuMs: number;
  processCpuMs: number;
  handlerMs: number;
}

/** Main-thread CPU and process CPU from before `act` until `settled` resolves. */
async function measure(act: () => Promise<void>, settled: () => Promise<number>): Promise<Sample> {
  const cpu0 = process.threadCpuUsage();
  const proc0 = process.cpuUsage();
  const done = settled(); // armed before the write: the change may arrive before its reply
  await act();
  const handlerMs = await done;
  await new Promise((r) => setImmediate(r));
  const cpu = process.threadCpuUsage(cpu0);
  const proc = process.cpuUsage(proc0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    processCpuMs: (proc.user + proc.system) / 1000,
    handlerMs,
  };
}

/** Heap in use on the main thread, after a collection (the bench runs with --expose-gc). */
function heapNow(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const quiet = (ms: number) => () => new Promise<number>((r) => setTimeout(() => r(0), ms));

/**
 * A governed client of `service` fed by a Discovery on `thread`, with a listener on each side of
 * it: the first and last to hear of a change, so the time between them is the client's own work.
 */
async function subscriber(service: string, size: number, thread: 'main' | 'worker') {
  const heapBefore = heapNow();
  const discovery = new Discovery({ connection, cacheDir: false, thread });
  const resolver = discovery.resolver(service);
  let firstAt = 0;
  let waiter: ((ms: number) => void) | undefined;
  resolver.onDidChange(() => {
    firstAt = performance.now();
  });
  const client = new MeshClient({
    service,
    caller: 'bench',
    localZone: undefined,
    localRegion: undefined,
    resolver,
    rules: new RuleStore({ prefix: 'bench', sections: builtinSections }),
    breakers: new BreakerRegistry({ clock: systemClock }),
    transport: { send: () => Promise.reject(new Error('no calls in this bench')) },
    clock: systemClock,
    random: systemRandom,
    logger: consoleLogger('silent'),
    observer: noopCallObserver,
  } as unknown as ConstructorParameters<typeof MeshClient>[0]);
  resolver.onDidChange(() => waiter?.(performance.now() - firstAt));
  const started = performance.now();
  while (client.status().endpoints < size) {
    if (performance.now() - started > 60_000) throw new Error(`${service}: no endpoints after 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const mainBytes = (heapNow() - heapBefore) / size;
  const worker = await discovery.workerStats();
  return {
    /** Heap per endpoint on the main thread (the list, the client and its balancer). */
    mainBytes,
    /** The worker's whole heap (its copy of the list, the parser's garbage collected first). */
    workerMb: worker.heapUsedBytes === undefined ? 0 : worker.heapUsedBytes / 2 ** 20,
    /** Resolves with the client's handling time once a change has gone through it. */
    changed: () =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${service}: change not seen in 10 s`)), 10_000);
        waiter = (ms) => {
          clearTimeout(timer);
          waiter = undefined;
          resolve(ms);
        };
      }),
    async close() {
      client.dispose();
      resolver.dispose();
      discovery.dispose();
      await discovery.stopped;
    },
  };
}

/**
 * The same change seen by a whole mesh (createMesh: metrics on, its client, the default balancer):
 * main-thread CPU over a fixed window after the write, minus the same window with nothing written.
 * Coarser than the event-based figure (the window holds the idle loop too), but it is everything.
 */
async function wholeMesh(service: string, size: number, thread: 'main' | 'worker'): Promise<number[]> {
  const mesh = await createMesh({
    consul: { address: agent.address },
    prefix: `bench-discovery-${thread}`,
    cacheDir: false,
    logger: 'error',
    env: false,
    discovery: { thread },
  });
  const client = mesh.client(service);
  const started = performance.now();
  while (client.status().endpoints < size) {
    if (performance.now() - started > 60_000) throw new Error(`${service}: no endpoints after 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const windowMs = size >= 5000 ? 600 : 200;
  const cpuOver = async (act: () => Promise<void>) => {
    const c0 = process.threadCpuUsage();
    await act();
    await new Promise((r) => setTimeout(r, windowMs));
    const d = process.threadCpuUsage(c0);
    return (d.user + d.system) / 1000;
  };
  const per: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const idle = await cpuOver(() => changeOne('idle', c % 10, ++version));
    const changed = await cpuOver(() => changeOne(service, (c * 104_729 + 7) % size, ++version));
    per.push(changed - idle);
  }
  await mesh.close();
  return per;
}

const meshRows: Record<string, string | number>[] = [];
const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
// Every write sets a version never used before, so each one is a real change.
let version = 1;
await registerFleet('idle', 10);
for (const size of SIZES) {
  const service = `fleet-${size}`;
  await registerFleet(service, size);
  for (const mode of MODES) {
    const perRun: {
      cpu: number[];
      proc: number[];
      handler: number[];
      mainBytes: number;
      workerMb: number;
    }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const sub = await subscriber(service, size, mode);
      const w = {
        cpu: [] as number[],
        proc: [] as number[],
        handler: [] as number[],
        mainBytes: sub.mainBytes,
        workerMb: sub.workerMb,
      };
      for (let c = 0; c < CHANGES; c++) {
        // The control: the same kind of write, to a service nobody here follows.
        const control = await measure(() => changeOne('idle', c % 10, ++version), quiet(5));
        const i = (c * 7919 + run * 13) % size;
        const changed = await measure(() => changeOne(service, i, ++version), sub.changed);
        w.cpu.push(changed.cpuMs - control.cpuMs);
        w.proc.push(changed.processCpuMs - control.processCpuMs);
        w.handler.push(changed.handlerMs);
      }
      await sub.close();
      perRun.push(w);
    }
    const med = (k: 'cpu' | 'proc' | 'handler') => spread(perRun.map((r) => median(r[k])));
    const row = {
      endpoints: size,
      discovery: mode === 'worker' ? 'worker thread' : 'main thread',
      'main-thread CPU ms/change': fmtSpread(med('cpu'), 2),
      'client update ms': fmtSpread(med('handler'), 2),
      'process CPU ms/change': fmtSpread(med('proc'), 1),
      'main heap B/endpoint': fmtSpread(spread(perRun.map((r) => r.mainBytes)), 0),
      'worker heap MB': mode === 'worker' ? fmtSpread(spread(perRun.map((r) => r.workerMb)), 1) : '–',
    };
    rows.push(row);
    results.push({ size, mode, runs: perRun });
    console.log(JSON.stringify(row));
    const whole = await wholeMesh(service, size, mode);
    meshRows.push({
      endpoints: size,
      discovery: row.discovery,
      'main-thread CPU ms/change': fmtSpread(spread(whole), 2),
    });
    results.push({ size, mode, wholeMesh: whole });
  }
}
printTable(
  `One endpoint change: main thread vs worker (median of ${CHANGES} changes per run; median (min–max) of ${RUNS} runs)`,
  rows,
);
printTable(
  `The same change in a whole mesh (createMesh, metrics on; median (min–max) of ${CHANGES} changes, fixed window minus an idle one)`,
  meshRows,
);
writeResults('discovery-main-thread', { changes: CHANGES, runs: RUNS, results });
await connection.close();
await agent.stop();
