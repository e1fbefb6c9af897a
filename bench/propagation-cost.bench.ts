// What header propagation (`createMesh({ propagate: { headers } })`) costs a governed call: a
// MeshClient (built `meshless`) over a sender that answers at once (no network: the figures are
// the client's own work), with no header named, with one named outside any served request, and
// with one named inside a served request that carried it (the header added to every call); and
// the propagation step alone (PropagatedHeaders.addTo). Interleaved passes, bounded loops.
// Build first (npx turbo run build --filter=meshless...), then: npm run bench -- propagation
import { AsyncLocalStorage } from 'node:async_hooks';
import { BreakerRegistry } from '@meshless/breaker';
import { endpoint } from '@meshless/core/testing';
import {
  builtinSections,
  consoleLogger,
  MeshClient,
  noopCallObserver,
  PropagatedHeaders,
  RuleStore,
  systemClock,
  systemRandom,
} from 'meshless';
import {
  fmtSpread,
  measureNs,
  pairwise,
  passesOf,
  printTable,
  scaled,
  spread,
  writeResults,
} from './lib/measure.ts';

const ITERATIONS = scaled(50_000);
const ROUNDS = 5;
const PASSES = Number(process.env.BENCH_PASSES ?? 5);

const endpoints = [endpoint('a', { service: 'pricing' })];
const resolver = {
  current: () => endpoints,
  ready: () => Promise.resolve(endpoints),
  onDidChange: () => ({ dispose() {} }),
};
const answered = Promise.resolve({ status: 200, statusText: undefined, headers: {}, body: null });
let lastHeaders: Record<string, string> | undefined;
const sender = {
  send(_endpoint: unknown, req: { headers: Record<string, string> }) {
    lastHeaders = req.headers;
    return answered;
  },
};

function client(propagation: PropagatedHeaders | undefined): MeshClient {
  const deps = {
    service: 'pricing',
    caller: 'catalog',
    localZone: undefined,
    localRegion: undefined,
    resolver,
    rules: new RuleStore({ prefix: 'bench', sections: builtinSections }),
    breakers: new BreakerRegistry({ clock: systemClock }),
    transport: sender,
    clock: systemClock,
    random: systemRandom,
    logger: consoleLogger('silent'),
    observer: noopCallObserver,
    propagation,
  };
  return new MeshClient(deps as unknown as ConstructorParameters<typeof MeshClient>[0]);
}

const propagation = new PropagatedHeaders(['x-user-group']);
const none = client(undefined);
const one = client(propagation);
const inbound = { 'x-user-group': 'beta', 'x-user-id': 'u1', accept: '*/*' };

const NONE = 'no header named';
const OUTSIDE = '1 named, outside a served request';
const INSIDE = '1 named, carried by the served request';
// Each case runs its calls in a captured async context (AsyncLocalStorage.snapshot): the served
// request's for the last, an empty one for the others, so the wrapper's cost is in every case alike.
const inContext = (snapshot: ReturnType<typeof AsyncLocalStorage.snapshot>, c: MeshClient) => {
  const call = () => c.fetch('/prices/1');
  return () => snapshot(call);
};
const outside = AsyncLocalStorage.snapshot();
const served = propagation.run(inbound, () => AsyncLocalStorage.snapshot());
const inside = inContext(served, one);
const cases: [string, () => Promise<unknown>][] = [
  [NONE, inContext(outside, none)],
  [OUTSIDE, inContext(outside, one)],
  [INSIDE, inside],
];

await inside();
if (lastHeaders?.['x-user-group'] !== 'beta') throw new Error('the carried header was not sent');
await none.fetch('/prices/1');
if (lastHeaders?.['x-user-group'] !== undefined) throw new Error('a header was sent with none named');

const { ns: all } = await passesOf(cases, PASSES, ITERATIONS, ROUNDS);
const ns = (name: string) => all.get(name)!;
const rows = cases.map(([name]) => ({
  case: name,
  'ns/call': fmtSpread(spread(ns(name))),
  'over none, ns': name === NONE ? '-' : fmtSpread(spread(pairwise(ns(name), ns(NONE), (a, b) => a - b))),
}));
printTable(
  `A governed client call (sender answers at once) with and without propagation, Node ${process.version}; median (min–max) of ${PASSES} interleaved passes`,
  rows,
);

// The step alone, as the client runs it per call (a fresh header record each time).
const fresh = () => Object.create(null) as Record<string, string>;
const step = propagation.run(inbound, () => [
  measureNs('addTo, 1 named and carried', () => propagation.addTo(fresh()), scaled(500_000)),
  measureNs('fresh header record only (baseline)', () => fresh(), scaled(500_000)),
]);
const outsideStep = measureNs(
  'addTo, 1 named, nothing carried',
  () => propagation.addTo(fresh()),
  scaled(500_000),
);
const steps = [...step, outsideStep];
printTable(
  'PropagatedHeaders.addTo per call',
  steps.map((r) => ({ case: r.name, 'ns/op': r.ns.toFixed(1) })),
);
const stepNs = step[0]!.ns - step[1]!.ns;
console.log(`\npropagation step, 1 header carried: ${stepNs.toFixed(1)} ns per call (target < 500 ns)`);

writeResults('propagation-cost', {
  node: process.version,
  iterations: ITERATIONS,
  rounds: ROUNDS,
  passes: PASSES,
  ns: Object.fromEntries(cases.map(([name]) => [name, ns(name)])),
  step: Object.fromEntries(steps.map((r) => [r.name, r.ns])),
});
none.dispose();
one.dispose();
