// Per-call overhead of the breaker and limiter policies over a raw `await fn()`, against
// opossum's `fire` and cockatiel's wrap(retry, circuitBreaker, timeout) as peers; then memory,
// timers and creation time of 10,000 breakers in a BreakerRegistry vs 10,000 opossum breakers.
// Build first (npx turbo run build --filter=@meshless/breaker --filter=@meshless/limiter), then
// run: node_modules/.bin/node bench/policies-breaker-limiter.bench.ts
import { createHook } from 'node:async_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BreakerRegistry, CircuitBreakerPolicy } from '@meshless/breaker';
import { type Policy, wrap } from '@meshless/core';
import {
  AdaptiveConcurrencyPolicy,
  BulkheadPolicy,
  FallbackPolicy,
  RateLimitPolicy,
  TimeoutPolicy,
} from '@meshless/limiter';
import {
  ConsecutiveBreaker,
  circuitBreaker,
  wrap as cockatielWrap,
  handleAll,
  retry,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import { bestOfPasses, printTable, writeResults } from './lib/measure.ts';

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

const fn = async (): Promise<number> => 42;
const ITERATIONS = 100_000;
const ROUNDS = 5;
const PASSES = 2;

// ---- per-call overhead ----------------------------------------------------------------------

const registry = new BreakerRegistry();
const bulkheadForStack = new BulkheadPolicy();
const breakerForStack = new CircuitBreakerPolicy({ resource: 'catalog' });
const timeoutForStack = new TimeoutPolicy({ timeoutMs: 1000 });
const opossum = new CircuitBreaker(fn);
const cockatiel = cockatielWrap(
  retry(handleAll, { maxAttempts: 3 }),
  circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
  timeout(1000, TimeoutStrategy.Cooperative),
);

const policy = (p: Policy) => () => p.execute(fn);
const cases: [string, () => Promise<unknown>][] = [
  ['raw await fn()', () => fn()],
  ['CircuitBreakerPolicy', policy(new CircuitBreakerPolicy({ resource: 'catalog' }))],
  ['registry.get(svc, ep) + breaker', () => registry.get('catalog', '10.0.0.1:8080').execute(fn)],
  ['TimeoutPolicy (1000 ms)', policy(new TimeoutPolicy({ timeoutMs: 1000 }))],
  ['BulkheadPolicy (100/50)', policy(new BulkheadPolicy())],
  ['RateLimitPolicy (never limited)', policy(new RateLimitPolicy({ perSecond: 1e9, burst: 1_000_000 }))],
  ['AdaptiveConcurrencyPolicy', policy(new AdaptiveConcurrencyPolicy())],
  ['FallbackPolicy', policy(new FallbackPolicy({ fallback: 0 }))],
  ['wrap(bulkhead, breaker, timeout)', policy(wrap(bulkheadForStack, breakerForStack, timeoutForStack))],
  ['opossum fire (defaults)', () => opossum.fire()],
  ['cockatiel wrap(retry, breaker, timeout)', () => cockatiel.execute(() => fn())],
];

const best = await bestOfPasses(cases, PASSES, ITERATIONS, ROUNDS);
opossum.shutdown();

const raw = best.get('raw await fn()')!.ns;
const opossumOverhead = best.get('opossum fire (defaults)')!.ns - raw;
const callRows = cases.map(([name]) => {
  const r = best.get(name)!;
  const overhead = r.ns - raw;
  return {
    case: name,
    'ns/call': r.ns,
    'overhead ns': name === 'raw await fn()' ? 0 : overhead,
    'x raw': r.ns / raw,
    'overhead / opossum overhead': name === 'raw await fn()' ? '-' : (overhead / opossumOverhead).toFixed(2),
  };
});
printTable(
  `Per-call overhead over a raw await (Node ${process.version}, best of ${PASSES} passes)`,
  callRows,
);

// ---- 10,000 breakers: heap, timers, creation time -------------------------------------------

const N = 10_000;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Live Timeout objects (ref'ed or not) created while `make` runs, via async_hooks. */
function measureBreakers<T>(make: () => T) {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  const activeBefore = process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
  const before = heapUsed();
  hook.enable();
  const start = performance.now();
  const made = make();
  const createMs = performance.now() - start;
  hook.disable();
  const heap = heapUsed() - before;
  const active = process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length - activeBefore;
  return { made, heap, createMs, timers: live.size, active };
}

const ours = measureBreakers(() => {
  const r = new BreakerRegistry();
  for (let i = 0; i < N; i++) r.get('catalog', `ep-${i}`);
  return r;
});
const theirs = measureBreakers(() => {
  const list: CircuitBreaker[] = [];
  for (let i = 0; i < N; i++) list.push(new CircuitBreaker(fn, { name: `ep-${i}` }));
  return list;
});
const memoryRows = [
  {
    implementation: `BreakerRegistry, ${N} breakers`,
    'heap MB': ours.heap / 2 ** 20,
    'bytes/breaker': Math.round(ours.heap / N),
    'live timers': ours.timers,
    'ref’ed Timeout handles': ours.active,
    'create ms': ours.createMs,
  },
  {
    implementation: `opossum, ${N} x new CircuitBreaker(fn)`,
    'heap MB': theirs.heap / 2 ** 20,
    'bytes/breaker': Math.round(theirs.heap / N),
    'live timers': theirs.timers,
    'ref’ed Timeout handles': theirs.active,
    'create ms': theirs.createMs,
  },
  {
    implementation: 'ratio registry / opossum',
    'heap MB': ours.heap / theirs.heap,
    'bytes/breaker': (ours.heap / theirs.heap).toFixed(2),
    'live timers': `${ours.timers} vs ${theirs.timers}`,
    'ref’ed Timeout handles': '-',
    'create ms': ours.createMs / theirs.createMs,
  },
];
printTable(
  `${N} breakers (live timers counted with async_hooks; getActiveResourcesInfo lists only ref'ed ones, and both libraries unref theirs)`,
  memoryRows,
);
ours.made.dispose();
for (const b of theirs.made) b.shutdown();
registry.dispose();

writeResults('policies-breaker-limiter', {
  node: process.version,
  iterations: ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  calls: callRows,
  breakers: memoryRows,
});
