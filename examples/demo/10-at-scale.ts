// Chapter 10: at fleet size. A `search` service of 2 000 instances is written into Consul's catalog
// (synthetic nodes on 10.x addresses, one passing check each); a mesh follows it while one
// instance changes every 150 ms, first with discovery on the main thread, then in the discovery
// worker (the default above 256 endpoints). Consul re-sends the whole list (about 2 MB) on every
// change: on the main thread each one stalls the event loop; in the worker the main thread gets
// only the changed endpoint. The fleet is removed from the catalog at the end.
import { performance } from 'node:perf_hooks';
import { createMesh } from 'meshless';
import { color, type DemoConsul, log } from './lib.ts';

const SIZE = 2000;
const CHANGES = 12;
const PER_NODE = 20;
const SERVICE = 'search';

const nodeOf = (i: number) => `demo-search-node-${Math.floor(i / PER_NODE)}`;
const addressOf = (i: number) => `10.77.${(i >> 8) & 255}.${i & 255}`;

function instance(i: number, version: number) {
  return {
    Service: {
      Verb: 'set',
      Node: nodeOf(i),
      Service: {
        ID: `search-${i}`,
        Service: SERVICE,
        Address: addressOf(i),
        Port: 8080,
        Tags: ['http'],
        Meta: { version: `v${version}`, zone: `zone-${String.fromCharCode(97 + (i % 3))}` },
      },
    },
  };
}

async function txn(consul: DemoConsul, ops: unknown[]): Promise<void> {
  const res = await consul.connection.request({ method: 'PUT', path: '/v1/txn', body: JSON.stringify(ops) });
  if (res.status !== 200)
    throw new Error(`catalog txn: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
}

async function registerFleet(consul: DemoConsul): Promise<void> {
  let ops: unknown[] = [];
  for (let i = 0; i < SIZE; i++) {
    if (i % PER_NODE === 0)
      ops.push({ Node: { Verb: 'set', Node: { Node: nodeOf(i), Address: addressOf(i) } } });
    ops.push(instance(i, 1));
    ops.push({
      Check: {
        Verb: 'set',
        Check: {
          Node: nodeOf(i),
          CheckID: `service:search-${i}`,
          Name: 'http',
          Status: 'passing',
          ServiceID: `search-${i}`,
        },
      },
    });
    if (ops.length >= 60) {
      await txn(consul, ops);
      ops = [];
    }
  }
  if (ops.length > 0) await txn(consul, ops);
}

async function removeFleet(consul: DemoConsul): Promise<void> {
  const nodes = Array.from({ length: Math.ceil(SIZE / PER_NODE) }, (_, n) => nodeOf(n * PER_NODE));
  for (let i = 0; i < nodes.length; i += 60)
    await txn(
      consul,
      nodes.slice(i, i + 60).map((Node) => ({ Node: { Verb: 'delete', Node: { Node } } })),
    );
}

/** The worst lateness of a 2 ms timer while `run` goes on: the longest the event loop was blocked. */
async function worstLag(run: () => Promise<void>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 2);
    last = now;
  }, 2);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return Math.max(0, worst);
}

export async function atScale(consul: DemoConsul, prefix: string): Promise<void> {
  log(color.bold('\n10. At fleet size: 2 000 instances, discovery off the main thread'));
  const started = performance.now();
  await registerFleet(consul);
  log(
    `   ${SIZE} instances of ${SERVICE} written to the catalog in ${Math.round(performance.now() - started)} ms`,
  );
  let version = 1;
  const results: Record<string, { lag: number; cpu: number }> = {};
  try {
    for (const thread of ['main', 'worker'] as const) {
      const mesh = await createMesh({
        consul: { address: consul.address },
        prefix,
        cacheDir: false,
        logger: 'error',
        env: false,
        discovery: { thread },
      });
      try {
        const client = mesh.client(SERVICE);
        for (let i = 0; i < 500 && client.status().endpoints < SIZE; i++)
          await new Promise((r) => setTimeout(r, 20));
        const cpu0 = process.threadCpuUsage();
        const lag = await worstLag(async () => {
          for (let c = 0; c < CHANGES; c++) {
            await txn(consul, [instance((c * 157) % SIZE, ++version)]);
            await new Promise((r) => setTimeout(r, 150));
          }
          await new Promise((r) => setTimeout(r, 300));
        });
        const cpu = process.threadCpuUsage(cpu0);
        results[thread] = { lag, cpu: (cpu.user + cpu.system) / 1000 / CHANGES };
      } finally {
        await mesh.close();
      }
    }
  } finally {
    await removeFleet(consul);
  }
  const line = (label: string, r: { lag: number; cpu: number }) =>
    `   ${label.padEnd(24)} worst event-loop stall ${r.lag.toFixed(1).padStart(6)} ms   main-thread CPU ${r.cpu.toFixed(1).padStart(5)} ms per change`;
  log(
    `   ${CHANGES} changes of one instance each, 150 ms apart (each re-sends the whole 2 000-instance list):`,
  );
  log(line('discovery: main thread', results.main!));
  log(color.green(line('discovery: worker', results.worker!)));
  log(
    color.dim(
      '   (the main-thread CPU includes the demo’s own 2 ms lag probe; bench/discovery-main-thread measures it precisely)',
    ),
  );
  log(color.dim('   the synthetic fleet is removed from the catalog again'));
}
