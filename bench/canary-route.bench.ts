// ns per RouteTable.route() for typical route documents, against Math.random() measured in the
// same run. Run: node_modules/.bin/node bench/canary-route.bench.ts (build @meshless/canary first).
import { compileRoutes, defaultRouteTable, type RouteRequest, routesRuleSchema } from '@meshless/canary';
import { measureNs, type NsResult, printTable, writeResults } from './lib/measure.ts';

function request(headers: Record<string, string>, path = '/items/42', method = 'GET'): RouteRequest {
  return { method, path, header: (name: string) => headers[name] };
}

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };
const split = [
  { subset: 'stable', weight: 90 },
  { subset: 'canary', weight: 10 },
];

const weighted = compileRoutes(
  routesRuleSchema.parse({
    subsets,
    routes: [
      { name: 'beta', match: { headers: { 'x-user-group': { exact: 'beta' } } }, to: [{ subset: 'canary' }] },
      { name: 'default', to: split },
    ],
  }),
);
const sticky = compileRoutes(
  routesRuleSchema.parse({
    subsets,
    routes: [
      { name: 'beta', match: { headers: { 'x-user-group': { exact: 'beta' } } }, to: [{ subset: 'canary' }] },
      { name: 'default', stickyBy: { header: 'x-user-id' }, to: split },
    ],
  }),
);
const regex = compileRoutes(
  routesRuleSchema.parse({
    subsets,
    routes: [
      { name: 'reviews', match: { path: { regex: '/items/\\d+/reviews' } }, to: [{ subset: 'canary' }] },
      { name: 'default', to: [{ subset: 'stable' }] },
    ],
  }),
);
const fallback = weighted.withAvailability((subset) => subset !== 'canary');

const plain = request({ 'x-user-id': 'user-1' });
const beta = request({ 'x-user-group': 'beta' });
const users = Array.from({ length: 1024 }, (_, i) => request({ 'x-user-id': `user-${i}` }));
const reviews = request({}, '/items/42/reviews');
const random = Math.random;

const results: NsResult[] = [
  measureNs('Math.random() (baseline)', () => random()),
  measureNs('default table (no rule)', () => defaultRouteTable.route(plain, random)),
  measureNs('header match hit (beta -> canary)', () => weighted.route(beta, random)),
  measureNs('header miss + 90/10 weighted', () => weighted.route(plain, random)),
  measureNs('header miss + 90/10 sticky by header', (i) => sticky.route(users[i & 1023]!, random)),
  measureNs('regex path match', () => regex.route(reviews, random)),
  measureNs('90/10 with canary empty (fallback)', () => fallback.route(plain, random)),
];

const baseline = results[0]!.ns;
const rows = results.map((r) => ({
  case: r.name,
  'ns/op': r.ns,
  'x Math.random()': r.ns / baseline,
}));
printTable('RouteTable.route() vs Math.random()', rows);
writeResults('canary-route', { node: process.version, results, rows });
