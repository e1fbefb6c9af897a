// A decorated method on a real mesh, as an app runs it: createMesh against a Consul dev agent with
// its defaults (Prometheus metrics on, tracing hooks on), `mesh.governed(name, stack)` on a method.
// The cost it adds per call over the undecorated method, beside the same stack on a bare Governor
// (no metrics, no spans: what bench/policies-stack.bench.ts times) and opossum's `fire`; then the
// same with an OpenTelemetry SDK registered (startTracing, BatchSpanProcessor, a discarding
// exporter), where every call makes a span. Spread: median and range over the passes.
// Run: npm run bench -- mesh-decorated
import { ConsulDevAgent } from '@meshless/consul/testing';
import { builtinSections, createMesh, Governor, governed, RuleStore, startTracing } from 'meshless';
import CircuitBreaker from 'opossum';
import { decorate } from './lib/decorate.ts';
import { fmtSpread, pairwise, passesOf, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const ITERATIONS = scaled(100_000);
/** With the SDK on, each round's spans wait in the batch queue and are flushed between rounds. */
const SDK_ITERATIONS = scaled(10_000);
const ROUNDS = 5;
const PASSES = Number(process.env.BENCH_PASSES ?? 5);
const STACK = { breaker: {}, retry: { attempts: 3 }, timeoutMs: 1000, bulkhead: {} };

const agent = await ConsulDevAgent.start();
const meshOptions = {
  consul: { address: agent.address },
  cacheDir: false as const,
  logger: 'silent' as const,
  service: { name: 'bench', port: 1, register: false },
};
// As users run it: metrics and tracing left at their defaults (both on).
const mesh = await createMesh(meshOptions);
const quiet = await createMesh({ ...meshOptions, metrics: false, tracing: false });
const rules = new RuleStore({ prefix: 'bench', sections: builtinSections });
const governor = new Governor({ rules });

class Plain {
  async get(id: number): Promise<number> {
    return id;
  }
}
function decorated(decorator: Parameters<typeof decorate>[2]): Plain {
  class Service extends Plain {}
  Service.prototype.get = Plain.prototype.get;
  decorate(Service.prototype, 'get', decorator);
  return new Service();
}
const plain = new Plain();
const onMesh = decorated(mesh.governed('bench.mesh', STACK));
const onMeshNoPolicy = decorated(mesh.governed('bench.mesh-bare'));
const onQuietMesh = decorated(quiet.governed('bench.quiet', STACK));
const onGovernor = decorated(governed(governor, 'bench.governor', STACK));
const opossum = new CircuitBreaker((id: number) => plain.get(id));

const PLAIN = 'undecorated method obj.get(i)';
const MESH = 'mesh.governed, default stack (metrics on, tracing hooks on, no SDK)';
const cases: [string, (i: number) => Promise<unknown>][] = [
  [PLAIN, (i) => plain.get(i)],
  [MESH, (i) => onMesh.get(i)],
  ['mesh.governed, no policy (metrics on, tracing hooks on, no SDK)', (i) => onMeshNoPolicy.get(i)],
  ['mesh.governed, default stack, createMesh({ metrics: false, tracing: false })', (i) => onQuietMesh.get(i)],
  ['governed() on a bare Governor, default stack (no metrics, no spans)', (i) => onGovernor.get(i)],
  ['opossum fire (defaults)', (i) => opossum.fire(i)],
];
const off = (await passesOf(cases, PASSES, ITERATIONS, ROUNDS)).ns;

// With the SDK on: startTracing switches every mesh's tracer on (the mesh looks again after it).
let exported = 0;
const tracing = await startTracing({
  serviceName: 'bench',
  detectResources: false,
  exporter: {
    export(spans, done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  },
  batch: { maxQueueSize: 2 * SDK_ITERATIONS, maxExportBatchSize: 512, scheduledDelayMillis: 1000 },
});
if (!mesh.tracer?.enabled) throw new Error('startTracing did not switch the mesh tracer on');
const PLAIN_SDK = 'undecorated method (SDK phase)';
const MESH_SDK = 'mesh.governed, default stack, SDK on (a span per call)';
const sdkCases: [string, (i: number) => Promise<unknown>][] = [
  [PLAIN_SDK, (i) => plain.get(i)],
  [MESH_SDK, (i) => onMesh.get(i)],
];
const on = (await passesOf(sdkCases, PASSES, SDK_ITERATIONS, ROUNDS, () => tracing.forceFlush())).ns;
await tracing.shutdown();

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const opossumAdded = pairwise(off.get('opossum fire (defaults)')!, off.get(PLAIN)!, (a, b) => a - b);
const addRow = (name: string, all: Map<string, number[]>, base: string) => {
  const ns = all.get(name)!;
  const added = pairwise(ns, all.get(base)!, (a, b) => a - b);
  const vsOpossum = all === off ? pairwise(added, opossumAdded, (a, b) => a / b) : undefined;
  rows.push({
    case: name,
    'ns/call': fmtSpread(spread(ns)),
    'added µs/call': name === base ? '-' : fmtSpread(spread(added.map((v) => v / 1000)), 2),
    'added / opossum added': vsOpossum && name !== base ? fmtSpread(spread(vsOpossum), 2) : '-',
  });
  results.push({ case: name, ns, addedNs: added });
};
for (const [name] of cases) addRow(name, off, PLAIN);
for (const [name] of sdkCases) addRow(name, on, PLAIN_SDK);
printTable(
  `A decorated method (breaker + retry 3 + timeout 1000 ms + bulkhead) on a real mesh, Node ${process.version}; median (min–max) of ${PASSES} interleaved passes, ${exported} spans exported`,
  rows,
);
writeResults('mesh-decorated', {
  node: process.version,
  iterations: ITERATIONS,
  sdkIterations: SDK_ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  results,
});

opossum.shutdown();
governor.dispose();
await mesh.close();
await quiet.close();
await agent.stop();
