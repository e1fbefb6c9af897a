// Per-call cost of meshless's tracing and metrics, as ratios to an untraced call (build headers,
// await the work) measured in the same run: tracing off (nothing registered: the API's no-op), tracing on (OpenTelemetry SDK,
// BatchSpanProcessor, an exporter that discards), prom-client's inc + observe with a labels
// object (the usual way), and our prepared recorder.
// Build first (npx turbo run build --filter=@meshless/tracing --filter=@meshless/metrics), then
// run: node_modules/.bin/node bench/observability.bench.ts
import { MeshMetrics } from '@meshless/metrics';
import { createMeshTracer, type MeshTracer, startTracing } from '@meshless/tracing';
import { trace } from '@opentelemetry/api';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  fmtSpread,
  measureAsyncNs,
  measureNs,
  median,
  type NsResult,
  printTable,
  spread,
  writeResults,
} from './lib/measure.ts';

const ITERATIONS = 200_000;
const ASYNC_ITERATIONS = 50_000;
const ROUNDS = 7;
const PASSES = 2;
/** Calls per round with the SDK on: the batch queue holds all their spans, flushed between rounds. */
const SDK_ITERATIONS = 10_000;

const endpoint = { id: 'catalog-1', address: '10.0.0.1', port: 8080 };
let sink: unknown;
const work = async (i: number): Promise<number> => i;

/** The cheapest governed call without telemetry: build its headers, await the work. */
async function untracedCall(i: number): Promise<number> {
  const headers: Record<string, string> = { accept: '*/*' };
  sink = headers;
  return await work(i);
}

/** The same call with every tracing hook a governed call makes (call span, one attempt, inject). */
async function tracedCall(tracer: MeshTracer, i: number): Promise<number> {
  const headers: Record<string, string> = { accept: '*/*' };
  sink = headers;
  const call = tracer.startClientCall('GET', 'catalog', '/items/1');
  call?.setRoute('default', 'stable');
  const attempt = call?.startAttempt(1, endpoint);
  attempt?.inject(headers);
  const result = await work(i);
  attempt?.end(200);
  call?.end(200);
  return result;
}

/** The same work as a decorated method called through `tracer.governed()`. */
function governedCall(tracer: MeshTracer, i: number): Promise<number> {
  return tracer.governed('catalog.getItem', untracedCall, undefined, [i]);
}

const noPause = async () => {};

/**
 * Median ns per awaited call over `rounds` rounds, with an async pause between rounds (outside the
 * timing) in which the batch span processor drains its queue to the exporter.
 */
async function measureRounds(
  name: string,
  fn: (i: number) => Promise<unknown>,
  between: () => Promise<void>,
  iterations: number,
  rounds = ROUNDS,
): Promise<NsResult> {
  for (let i = 0; i < iterations; i++) await fn(i);
  await between();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn(i);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
    await between();
  }
  return { name, ns: median(samples), ops: iterations * rounds };
}

const best = new Map<string, NsResult>();
const keep = (r: NsResult) => {
  const prev = best.get(r.name);
  if (!prev || r.ns < prev.ns) best.set(r.name, r);
};

// ---- metrics (no SDK involved) ------------------------------------------------------------------

const promRegistry = new Registry();
const promLabels = ['service', 'method', 'subset', 'outcome'];
const promCounter = new Counter({
  name: 'c_total',
  help: 'h',
  labelNames: promLabels,
  registers: [promRegistry],
});
const promHistogram = new Histogram({
  name: 'd_seconds',
  help: 'h',
  labelNames: promLabels,
  registers: [promRegistry],
});
const promCounterChild = promCounter.labels('catalog', 'GET', 'stable', 'success');
const promHistogramChild = promHistogram.labels('catalog', 'GET', 'stable', 'success');
const metrics = new MeshMetrics();
const recorder = metrics.clientCall('catalog', 'GET', 'stable');
const seconds = (i: number) => (i & 127) / 1000;

// ---- tracing off: nothing registered ------------------------------------------------------------

const off = createMeshTracer();
if (off.enabled) throw new Error('a tracer provider is registered; the no-op case needs none');

for (let pass = 0; pass < PASSES; pass++) {
  keep(await measureRounds('untraced call', untracedCall, noPause, ASYNC_ITERATIONS));
  keep(
    await measureRounds(
      'tracing off: client call hooks',
      (i) => tracedCall(off, i),
      noPause,
      ASYNC_ITERATIONS,
    ),
  );
  keep(
    await measureRounds(
      'tracing off: governed(resource, fn)',
      (i) => governedCall(off, i),
      noPause,
      ASYNC_ITERATIONS,
    ),
  );
  keep(
    measureNs(
      'prom-client inc + observe, labels object',
      (i) => {
        const labels = { service: 'catalog', method: 'GET', subset: 'stable', outcome: 'success' };
        promCounter.inc(labels);
        promHistogram.observe(labels, seconds(i));
      },
      ITERATIONS,
      ROUNDS,
    ),
  );
  keep(
    measureNs(
      'prom-client labels() children inc + observe',
      (i) => {
        promCounterChild.inc();
        promHistogramChild.observe(seconds(i));
      },
      ITERATIONS,
      ROUNDS,
    ),
  );
  keep(
    measureNs(
      'MeshMetrics prepared record()',
      (i) => recorder.record('success', seconds(i)),
      ITERATIONS,
      ROUNDS,
    ),
  );
  keep(
    measureNs(
      'MeshMetrics clientCall() lookup + record()',
      (i) => metrics.clientCall('catalog', 'GET', 'stable').record('success', seconds(i)),
      ITERATIONS,
      ROUNDS,
    ),
  );
}

// ---- golden signals (GET /meshless/signals): read from the same cells, so record() above is its
// whole hot-path cost; what a scrape costs, next to the Prometheus text of the same metrics -------

/** An instance calling 10 services (2 subsets, GET and POST, 3 outcomes each) and serving one. */
function scrapedInstance(): MeshMetrics {
  const m = new MeshMetrics();
  for (let s = 0; s < 10; s++) {
    for (const subset of ['stable', 'canary']) {
      for (const method of ['GET', 'POST']) {
        const r = m.clientCall(`service-${s}`, method, subset);
        for (let i = 0; i < 100; i++)
          r.record(i % 20 === 0 ? 'error' : i % 33 === 0 ? 'timeout' : 'success', seconds(i));
      }
    }
  }
  for (const method of ['GET', 'POST']) {
    const r = m.serverCall('self', method);
    for (let i = 0; i < 100; i++) r.record(i % 25 === 0 ? 503 : i % 40 === 0 ? 404 : 200, seconds(i));
  }
  return m;
}
const scraped = scrapedInstance();
const SCRAPES = 300;
const signalsRuns: Record<string, number[]> = { signals: [], prometheus: [] };
for (let pass = 0; pass < PASSES; pass++) {
  signalsRuns.signals!.push(
    measureNs('signals', () => JSON.stringify(scraped.signals({ service: 'self' })), SCRAPES, ROUNDS).ns,
  );
  signalsRuns.prometheus!.push(
    (await measureAsyncNs('prometheus', () => scraped.text(), SCRAPES, ROUNDS)).ns,
  );
}
const signalsBytes = Buffer.byteLength(JSON.stringify(scraped.signals({ service: 'self' })));
const promBytes = Buffer.byteLength(await scraped.text());
const signalsRows = [
  {
    case: 'GET /meshless/signals: signals() + JSON.stringify',
    'µs/scrape': fmtSpread(spread(signalsRuns.signals!.map((n) => n / 1000))),
    bytes: signalsBytes,
  },
  {
    case: 'GET /metrics: registry text (same metrics)',
    'µs/scrape': fmtSpread(spread(signalsRuns.prometheus!.map((n) => n / 1000))),
    bytes: promBytes,
  },
];

// ---- tracing on: the SDK with a BatchSpanProcessor and an exporter that discards ----------------

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
  // Room for every span of a round (two per call), so none is dropped and each is exported.
  batch: { maxQueueSize: 4 * SDK_ITERATIONS, maxExportBatchSize: 512, scheduledDelayMillis: 1000 },
});
const on = createMeshTracer();
if (!on.enabled) throw new Error('startTracing did not register the SDK');
const otelTracer = trace.getTracer('bench');
const flush = () => tracing.forceFlush();

for (let pass = 0; pass < PASSES; pass++) {
  keep(await measureRounds('untraced call (SDK phase)', untracedCall, flush, SDK_ITERATIONS));
  keep(
    await measureRounds(
      'OTel SDK alone: startSpan + end around the call',
      async (i) => {
        const span = otelTracer.startSpan('GET');
        const r = await untracedCall(i);
        span.end();
        return r;
      },
      flush,
      SDK_ITERATIONS,
    ),
  );
  keep(
    await measureRounds(
      'tracing on: client call hooks (2 spans)',
      (i) => tracedCall(on, i),
      flush,
      SDK_ITERATIONS,
    ),
  );
  keep(
    await measureRounds(
      'tracing on: governed(resource, fn)',
      (i) => governedCall(on, i),
      flush,
      SDK_ITERATIONS,
    ),
  );
}
await tracing.shutdown();

// ---- tables -------------------------------------------------------------------------------------

const ns = (name: string) => best.get(name)!.ns;
const base = ns('untraced call');
const baseSdk = ns('untraced call (SDK phase)');
const row = (name: string, baseline: number, goal?: [string, boolean]) => ({
  case: name,
  'ns/call': ns(name),
  'overhead ns': ns(name) - baseline,
  'x untraced': ns(name) / baseline,
  goal: goal ? `${goal[0]}: ${goal[1] ? 'met' : 'MISSED'}` : '',
});

const offOverhead = ns('tracing off: client call hooks') - base;
const tracingRows = [
  row('untraced call', base),
  row('tracing off: client call hooks', base, ['overhead < 100 ns', offOverhead < 100]),
  row('tracing off: governed(resource, fn)', base, [
    'overhead < 100 ns',
    ns('tracing off: governed(resource, fn)') - base < 100,
  ]),
  row('OTel SDK alone: startSpan + end around the call', baseSdk),
  row('tracing on: client call hooks (2 spans)', baseSdk),
  row('tracing on: governed(resource, fn)', baseSdk),
];
printTable(
  `Tracing cost per call (Node ${process.version}, best of ${PASSES} passes; SDK rows: BatchSpanProcessor, discarding exporter, ${exported} spans exported)`,
  tracingRows,
);

const promBase = ns('prom-client inc + observe, labels object');
const metricsRows = [
  'prom-client inc + observe, labels object',
  'prom-client labels() children inc + observe',
  'MeshMetrics prepared record()',
  'MeshMetrics clientCall() lookup + record()',
].map((name) => ({
  case: name,
  'ns/call': ns(name),
  'x untraced': ns(name) / base,
  'x prom-client': ns(name) / promBase,
  goal: name === 'MeshMetrics prepared record()' ? `< 400 ns: ${ns(name) < 400 ? 'met' : 'MISSED'}` : '',
}));
printTable('Metrics of one governed call (request counter + duration histogram)', metricsRows);

printTable(
  `Golden signals per scrape: an instance calling 10 services x 2 subsets x 2 methods x 3 outcomes, serving 1 (median of ${PASSES} passes, each the median of ${ROUNDS} rounds of ${SCRAPES}; range over passes). record() is unchanged: the signals read its cells`,
  signalsRows,
);

writeResults('observability', {
  node: process.version,
  iterations: ITERATIONS,
  asyncIterations: ASYNC_ITERATIONS,
  sdkIterations: SDK_ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  spansExported: exported,
  tracing: tracingRows,
  metrics: metricsRows,
  signals: signalsRows,
});
if (sink === Symbol.for('never')) console.log(sink);
