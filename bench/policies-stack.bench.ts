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
import { type GovernedMethodDecorator, governed } from '../packages/meshless/src/decorators/index.ts';
import { Governor } from '../packages/meshless/src/governance/index.ts';
import { builtinSections } from '../packages/meshless/src/rules/index.ts';
import { bestOfPasses, printTable, writeResults } from './lib/measure.ts';

const fn = async (): Promise<number> => 42;
const ITERATIONS = 100_000;
const ROUNDS = 5;
const PASSES = 3;

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

/** Applies a decorator the way compiled standard-decorator code does (Node cannot parse `@`). */
function decorate(proto: object, name: string, decorator: GovernedMethodDecorator): void {
  const method = (proto as Record<string, (...args: never[]) => Promise<unknown>>)[name]!;
  const context = { kind: 'method', name, static: false, private: false, addInitializer() {}, metadata: {} };
  const apply = decorator as unknown as (value: typeof method, ctx: unknown) => typeof method;
  Object.defineProperty(proto, name, { value: apply(method, context), configurable: true, writable: true });
}

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

const best = await bestOfPasses(cases, PASSES, ITERATIONS, ROUNDS);
opossum.shutdown();
governor.dispose();

const ns = (name: string) => best.get(name)!.ns;
const opossumOverhead = ns(OPOSSUM) - ns(RAW);
const rows = cases.map(([name, , baseline]) => {
  const overhead = name === baseline ? 0 : ns(name) - ns(baseline);
  return {
    case: name,
    'ns/call': ns(name),
    baseline: baseline === RAW ? 'raw' : 'undecorated',
    'overhead ns': overhead,
    'overhead / opossum overhead': name === baseline ? '-' : (overhead / opossumOverhead).toFixed(2),
  };
});
printTable(
  `Per-call overhead of the default stack (breaker + retry 3 + timeout 1000 ms + bulkhead), Node ${process.version}, best of ${PASSES} passes`,
  rows,
);
const wrapOverhead = ns('core wrap(bulkhead, retry, breaker, timeout)') - ns(RAW);
const governorOverhead = ns('Governor stack, code values') - ns(RAW);
console.log(
  `\nGovernor stack / core wrap() overhead: ${(governorOverhead / wrapOverhead).toFixed(2)}; ` +
    `Governor stack / opossum fire overhead: ${(governorOverhead / opossumOverhead).toFixed(2)}`,
);

writeResults('policies-stack', {
  node: process.version,
  iterations: ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  rows,
});
