// The failure path: the same stack (retry 3 attempts, breaker, timeout, bulkhead) around work of
// which 10% of calls fail (every 10th invocation throws a new Error; the retry that follows succeeds,
// so the breaker stays closed), beside the same work with no failures, measured in the same run:
// a hand-written retry loop (the floor), the stack on a bare Governor, a decorated method on a real
// mesh (createMesh defaults: metrics on, tracing hooks on), opossum's `fire` inside the same hand
// loop (with its defaults and without rolling percentiles), and cockatiel's wrap(retry, breaker,
// timeout). No backoff configured anywhere (meshless's retry gets backoff 0), so the figures are
// the cost of handling a failure; cockatiel still waits a setTimeout(0) before each retry, which
// the wall time shows and the CPU column does not. Spread: median and range over the passes.
// Run: npm run bench -- policies-failure
import { ConsulDevAgent } from '@meshless/consul/testing';
import {
  ConstantBackoff,
  circuitBreaker,
  wrap as cockatielWrap,
  handleAll,
  retry,
  SamplingBreaker,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import { builtinSections, createMesh, Governor, type Policy, RuleStore } from 'meshless';
import CircuitBreaker from 'opossum';
import { decorate } from './lib/decorate.ts';
import { fmtSpread, pairwise, passesOf, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const ITERATIONS = scaled(50_000);
const ROUNDS = 5;
const PASSES = Number(process.env.BENCH_PASSES ?? 5);
const ATTEMPTS = 3;
const STACK = {
  breaker: {},
  retry: { attempts: ATTEMPTS, backoff: { baseMs: 0, maxMs: 0 } },
  timeoutMs: 1000,
  bulkhead: {},
};

let failed = 0;
const ok = async (): Promise<number> => 42;
/**
 * Work of which every 10th invocation fails, never two in a row: each failing call succeeds on its
 * first retry. A counter of its own per contender, so each starts with 9 successes (a breaker
 * that sees one failure as its first call is at 100% and opens: opossum's would).
 */
function flaky(): () => Promise<number> {
  let invocations = 0;
  return async () => {
    if (++invocations % 10 === 0) {
      failed++;
      throw new Error('upstream failed');
    }
    return 42;
  };
}
type Work = () => Promise<number>;

/** What an app writes without a library: try again up to ATTEMPTS times. */
async function handRetry(run: () => Promise<number>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= ATTEMPTS) throw error;
    }
  }
}

const agent = await ConsulDevAgent.start();
const mesh = await createMesh({
  consul: { address: agent.address },
  cacheDir: false,
  logger: 'silent',
  service: { name: 'bench', port: 1, register: false },
});
const governor = new Governor({ rules: new RuleStore({ prefix: 'bench', sections: builtinSections }) });

const breakers: CircuitBreaker[] = [];
type Contender = (work: Work, label: string) => (i: number) => Promise<unknown>;
const contenders: [string, Contender][] = [
  ['hand-written retry loop (no breaker)', (work) => () => handRetry(work)],
  [
    'Governor stack, code values',
    (work, label) => {
      const p: Policy = governor.policy({ kind: 'resource', name: `bench.gov-${label}` }, STACK);
      return () => p.execute(work);
    },
  ],
  [
    'mesh.governed method (metrics on, tracing hooks on)',
    (work, label) => {
      class Service {
        async get(): Promise<number> {
          return work();
        }
      }
      decorate(Service.prototype, 'get', mesh.governed(`bench.mesh-${label}`, STACK));
      const s = new Service();
      return () => s.get();
    },
  ],
  [
    'opossum fire (defaults) in the hand loop',
    (work) => {
      const breaker = new CircuitBreaker(work);
      breakers.push(breaker);
      return () => handRetry(() => breaker.fire());
    },
  ],
  [
    // Defaults sort every latency of the 10 s window on each failure: the cost grows with the call rate.
    'opossum fire ({ rollingPercentilesEnabled: false }) in the hand loop',
    (work) => {
      const breaker = new CircuitBreaker(work, { rollingPercentilesEnabled: false });
      breakers.push(breaker);
      return () => handRetry(() => breaker.fire());
    },
  ],
  [
    'cockatiel wrap(retry 3 attempts, breaker 50%, timeout)',
    (work) => {
      const policy = cockatielWrap(
        retry(handleAll, { maxAttempts: ATTEMPTS - 1, backoff: new ConstantBackoff(0) }),
        circuitBreaker(handleAll, {
          halfOpenAfter: 10_000,
          breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
        }),
        timeout(1000, TimeoutStrategy.Cooperative),
      );
      return () => policy.execute(() => work());
    },
  ],
];

const OK = '0% failing';
const FLAKY = '10% failing';
const cases: [string, (i: number) => Promise<unknown>][] = [];
for (const [name, make] of contenders) {
  cases.push([`${name} | ${OK}`, make(ok, 'ok')], [`${name} | ${FLAKY}`, make(flaky(), 'flaky')]);
}
// A call that still fails is caught here and counted, by case: none should (the retry succeeds).
const surfaced = new Map<string, number>();
const lastError = new Map<string, unknown>();
const guarded = cases.map(([name, run]): [string, (i: number) => Promise<unknown>] => [
  name,
  (i) =>
    run(i).catch((error: unknown) => {
      surfaced.set(name, (surfaced.get(name) ?? 0) + 1);
      lastError.set(name, error);
    }),
]);
// Where failures cost 100 µs or more a call (opossum's defaults, cockatiel's timer), the full count
// would take minutes: those cases run on their own, after the others, with a twentieth of the calls.
const SLOW = [
  `opossum fire (defaults) in the hand loop | ${FLAKY}`,
  `cockatiel wrap(retry 3 attempts, breaker 50%, timeout) | ${FLAKY}`,
];
const fast = await passesOf(
  guarded.filter(([name]) => !SLOW.includes(name)),
  PASSES,
  ITERATIONS,
  ROUNDS,
);
const slow = await passesOf(
  guarded.filter(([name]) => SLOW.includes(name)),
  PASSES,
  Math.max(1, Math.round(ITERATIONS / 20)),
  ROUNDS,
);
const all = new Map([...fast.ns, ...slow.ns]);
const cpuNs = new Map([...fast.cpuNs, ...slow.cpuNs]);

const ns = (name: string, rate: string) => all.get(`${name} | ${rate}`)!;
const floor = contenders[0]![0];
const rows = contenders.map(([name]) => {
  const flakyNs = ns(name, FLAKY);
  const extra = pairwise(flakyNs, ns(name, OK), (a, b) => a - b);
  return {
    contender: name,
    [`ns/call, ${OK}`]: fmtSpread(spread(ns(name, OK))),
    [`ns/call, ${FLAKY}`]: fmtSpread(spread(flakyNs)),
    'failures add ns/call': fmtSpread(spread(extra)),
    'x hand loop, 10% failing': fmtSpread(spread(pairwise(flakyNs, ns(floor, FLAKY), (a, b) => a / b)), 2),
    'CPU ns/call, 10% failing': fmtSpread(spread(cpuNs.get(`${name} | ${FLAKY}`)!)),
    'errors at caller': surfaced.get(`${name} | ${FLAKY}`) ?? 0,
  };
});
printTable(
  `Failure path: breaker + retry ${ATTEMPTS} attempts (no backoff) + timeout + bulkhead, every 10th call failing once, Node ${process.version}; median (min–max) of ${PASSES} interleaved passes (${SLOW.length} slow cases after the others, 1/20 of the calls); ${failed} failures thrown`,
  rows,
);
for (const [name, error] of lastError)
  console.log(`${name}: ${surfaced.get(name)} calls failed, last: ${error}`);
writeResults('policies-failure', {
  node: process.version,
  iterations: ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  failures: failed,
  surfaced: Object.fromEntries(surfaced),
  ns: Object.fromEntries(all),
  cpuNs: Object.fromEntries(cpuNs),
});

for (const b of breakers) b.shutdown();
governor.dispose();
await mesh.close();
await agent.stop();
