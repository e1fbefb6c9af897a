// Per-call overhead of the whole default policy stack (breaker + retry(attempts 3) + timeout +
// bulkhead) as the Governor composes it, over a raw `await fn()`: from code values, from a
// `resources/<name>` rule, through a decorated method; against the same policies through core's
// wrap(), opossum's `fire` with default options and cockatiel's wrap(retry, breaker, timeout).
// Build first (npx turbo run build --filter=meshless...), then run:
//   node_modules/.bin/node bench/policies-stack.bench.ts
import { CircuitBreakerPolicy } from '@meshless/breaker';
import { type Policy, RuleStore, wrap } from '@meshless/core';
import { BulkheadPolicy, TimeoutPolicy } from '@meshless/limiter';
import { RetryPolicy } from '@meshless/retry';
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
// The governance layer is not exported from `meshless` yet: Node strips the types of its sources.
import { governed } from '../packages/meshless/src/decorators/index.ts';
import { Governor } from '../packages/meshless/src/governance/index.ts';
import { builtinSections } from '../packages/meshless/src/rules/index.ts';
import { decorate } from './lib/decorate.ts';
import { fmtSpread, pairwise, passesOf, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const fn = async (): Promise<number> => 42;
const ITERATIONS = scaled(100_000);
const ROUNDS = 5;
const PASSES = Number(process.env.BENCH_PASSES ?? 5);

const STACK = { breaker: {}, retry: { attempts: 3 }, timeoutMs: 1000, bulkhead: {} };

// ---- the contenders --------------------------------------------------------------------------

const rules = new RuleStore({ prefix: 'bench', sections: builtinSections });
rules.applySnapshot({
  index: 1,
  origin: 'source',
  entries: [
    {
      key: 'bench/resources/bench.rule',
      value: new TextEncoder().encode(JSON.stringify(STACK)),
      modifyIndex: 1,
    },
  ],
});
const governor = new Governor({ rules });
const fromCode = governor.policy({ kind: 'resource', name: 'bench.code' }, STACK);
const fromRule = governor.policy({ kind: 'resource', name: 'bench.rule' }, { idempotent: true });
const sixLayers = governor.policy(
  { kind: 'resource', name: 'bench.six' },
  { ...STACK, rateLimit: { perSecond: 1e9, burst: 1_000_000 }, fallback: 0 },
);
for (const p of [fromCode, fromRule]) {
  if (p.layers.join() !== 'bulkhead,retry,breaker,timeout') throw new Error(`unexpected stack ${p.layers}`);
}

const wrapped = wrap(
  new BulkheadPolicy({ resource: 'w' }),
  new RetryPolicy({ attempts: 3, resource: 'w' }),
  new CircuitBreakerPolicy({ resource: 'w' }),
  new TimeoutPolicy({ timeoutMs: 1000, resource: 'w' }),
);

class Plain {
  async get(id: number): Promise<number> {
    return id;
  }
}
class Decorated {
  async get(id: number): Promise<number> {
    return id;
  }
}
class DecoratedNoPolicy {
  async get(id: number): Promise<number> {
    return id;
  }
}
decorate(Decorated.prototype, 'get', governed(governor, 'bench.decorated', STACK));
decorate(DecoratedNoPolicy.prototype, 'get', governed(governor, 'bench.bare'));
const plain = new Plain();
const decorated = new Decorated();
const bare = new DecoratedNoPolicy();

const opossum = new CircuitBreaker(fn);
const cockatiel = cockatielWrap(
  retry(handleAll, { maxAttempts: 3 }),
  circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
  timeout(1000, TimeoutStrategy.Cooperative),
);

const policy = (p: Policy) => () => p.execute(fn);
const RAW = 'raw await fn()';
const PLAIN = 'undecorated method obj.get(1)';
const OPOSSUM = 'opossum fire (defaults)';
const cases: [string, () => Promise<unknown>, string][] = [
  [RAW, () => fn(), RAW],
  ['Governor stack, code values', policy(fromCode), RAW],
  ['Governor stack, resources/<name> rule', policy(fromRule), RAW],
  ['core wrap(bulkhead, retry, breaker, timeout)', policy(wrapped), RAW],
  ['Governor, 6 layers (+ rate limit, fallback)', policy(sixLayers), RAW],
  [PLAIN, () => plain.get(1), PLAIN],
  ['@governed method, default stack', () => decorated.get(1), PLAIN],
  ['@governed method, no policy', () => bare.get(1), PLAIN],
  [OPOSSUM, () => opossum.fire(), RAW],
  ['cockatiel wrap(retry, breaker, timeout)', () => cockatiel.execute(() => fn()), RAW],
];

// ---- measure ---------------------------------------------------------------------------------

const { ns: all } = await passesOf(cases, PASSES, ITERATIONS, ROUNDS);
opossum.shutdown();
governor.dispose();

const ns = (name: string) => all.get(name)!;
/** Overhead over the baseline, pass by pass (both measured in the same pass). */
const over = (name: string, baseline: string) => pairwise(ns(name), ns(baseline), (a, b) => a - b);
const opossumOverhead = over(OPOSSUM, RAW);
const rows = cases.map(([name, , baseline]) => {
  const overhead = over(name, baseline);
  return {
    case: name,
    'ns/call': fmtSpread(spread(ns(name))),
    baseline: baseline === RAW ? 'raw' : 'undecorated',
    'overhead ns': name === baseline ? '-' : fmtSpread(spread(overhead)),
    'overhead / opossum overhead':
      name === baseline ? '-' : fmtSpread(spread(pairwise(overhead, opossumOverhead, (a, b) => a / b)), 2),
  };
});
printTable(
  `Per-call overhead of the default stack (breaker + retry 3 + timeout 1000 ms + bulkhead) on a bare Governor (no metrics, no spans; a real mesh: bench/mesh-decorated.bench.ts), Node ${process.version}; median (min–max) of ${PASSES} interleaved passes`,
  rows,
);
const governorOverhead = over('Governor stack, code values', RAW);
const ratioOf = (base: number[]) => fmtSpread(spread(pairwise(governorOverhead, base, (a, b) => a / b)), 2);
console.log(
  `\nGovernor stack / core wrap() overhead: ${ratioOf(over('core wrap(bulkhead, retry, breaker, timeout)', RAW))}; ` +
    `Governor stack / opossum fire overhead: ${ratioOf(opossumOverhead)}`,
);

writeResults('policies-stack', {
  node: process.version,
  iterations: ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  ns: Object.fromEntries(all),
  rows,
});
