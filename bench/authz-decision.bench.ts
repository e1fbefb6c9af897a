// ns per IntentionTable.decide(): the authorization decision every inbound request pays (issue 14,
// goal < 1 µs for an L4 intention). 1 000 intentions: an exact-source hit, a '*' hit, the default;
// an L7 intention of 10 permissions hit by the last; a Map.get on 1 000 names as the baseline.
// Each case in RUNS interleaved runs (median of 7 rounds each); median (min–max) over the runs.
// Run: node_modules/.bin/node bench/authz-decision.bench.ts (build @meshless/canary first).
// Not exported by meshless yet: the table itself, from source (erasable TypeScript only).

import type { IncomingMessage } from 'node:http';
import { Emitter, noopLogger, systemClock } from '@meshless/core';
import { MeshMetrics } from '@meshless/metrics';
import { InboundAuthorizer } from '../packages/meshless/src/zero-trust/inbound-authorizer.ts';
import {
  type AuthzRequest,
  type Decision,
  IntentionTable,
} from '../packages/meshless/src/zero-trust/intention-table.ts';
import type { Intention, IntentionPermission } from '../packages/meshless/src/zero-trust/intention-types.ts';
import { fmtSpread, measureNs, printTable, scaled, spread, writeResults } from './lib/measure.ts';

const RUNS = 5;
const ITERATIONS = scaled(1_000_000);
const N = 1000;

const intention = (
  i: number,
  source: string,
  action: 'allow' | 'deny' | undefined,
  permissions?: IntentionPermission[],
): Intention =>
  Object.freeze({
    id: `id-${i}`,
    source,
    action,
    permissions,
    precedence: source === '*' ? 8 : 9,
    description: '',
  });

const names = Array.from({ length: N }, (_, i) => `service-${i}`);
// 999 exact sources and a '*'; and 1 000 exact sources with no '*' (the default applies).
const withWildcard = IntentionTable.build(
  [
    ...names.slice(0, N - 1).map((s, i) => intention(i, s, i % 2 ? 'allow' : 'deny')),
    intention(N, '*', 'allow'),
  ],
  false,
);
const exactOnly = IntentionTable.build(
  names.map((s, i) => intention(i, s, 'allow')),
  false,
);

// L7: nine permissions that miss (path, method, header), the tenth matches.
const permissions: IntentionPermission[] = [
  ...Array.from({ length: 9 }, (_, k) => ({
    action: 'deny' as const,
    http:
      k % 3 === 0
        ? { pathPrefix: `/admin/${k}/` }
        : k % 3 === 1
          ? { pathExact: '/api/items/42', methods: ['DELETE'] }
          : { pathPrefix: '/api/', headers: [{ name: 'x-debug', present: true }] },
  })),
  {
    action: 'allow' as const,
    http: {
      pathRegex: '/api/items/[0-9]+',
      methods: ['GET', 'HEAD'],
      headers: [{ name: 'x-user-group', exact: 'beta' }],
    },
  },
];
const l7 = IntentionTable.build([intention(0, 'web', undefined, permissions)], false);
if (l7.problems.length > 0) throw new Error(`L7 table refused: ${l7.problems.join('; ')}`);

const plain: AuthzRequest = { method: 'GET', path: '/api/items/42', headers: { accept: '*/*' } };
const l7Request: AuthzRequest = {
  method: 'GET',
  path: '/api/items/42?view=full',
  headers: { accept: '*/*', 'x-user-group': 'beta', 'user-agent': 'undici' },
};

const check = (d: Decision, allowed: boolean, what: string) => {
  if (d.allowed !== allowed) throw new Error(`${what}: expected allowed=${allowed}`);
};
check(withWildcard.decide('service-2', plain), false, 'L4 hit');
check(withWildcard.decide('stranger', plain), true, 'wildcard hit');
check(exactOnly.decide('stranger', plain), false, 'default');
const last = l7.decide('web', l7Request);
if (!last.allowed || last.permission !== 9) throw new Error('L7: expected the 10th permission to allow');

// The whole inbound check a mutual-TLS request pays: the connection's cached verdict, the table,
// the allow/deny counter (real MeshMetrics), req.meshless set. A fake TLS socket (its verdict is
// worked out on the first request of the connection and kept).
const TD = '11111111-2222-3333-4444-555555555555.consul';
const authorizer = new InboundAuthorizer(
  {
    service: 'api',
    intentions: {
      current: () => ({
        intentions: [intention(0, 'web', 'allow'), ...names.map((s, i) => intention(i + 1, s, 'deny'))],
        defaultAllow: false,
        source: 'legacy',
        index: 1,
      }),
      onDidChange: new Emitter<never>().event,
    },
    trustDomain: () => TD,
    defaultDecision: 'consul',
    logger: noopLogger,
    clock: systemClock,
    observer: new MeshMetrics(),
  },
  'strict',
);
const tlsSocket = {
  encrypted: true,
  authorized: true,
  getPeerCertificate: () => ({ subjectaltname: `URI:spiffe://${TD}/ns/default/dc/dc1/svc/web` }),
};
const tlsRequest = {
  socket: tlsSocket,
  method: 'GET',
  url: '/api/items/42',
  headers: {},
} as unknown as IncomingMessage;
if (authorizer.check(tlsRequest, undefined) !== undefined)
  throw new Error('authorizer: expected web allowed');

const map = new Map(names.map((n, i) => [n, i]));
const strangers = names.map((n) => `${n}-x`);
const cases: [string, (i: number) => unknown][] = [
  ['Map.get, 1 000 names (baseline)', (i) => map.get(names[i % N]!)],
  ['L4 exact-source hit, 1 000 intentions', (i) => withWildcard.decide(names[i % (N - 1)]!, plain)],
  ["'*' hit, 1 000 intentions", (i) => withWildcard.decide(strangers[i % N]!, plain)],
  ['default (no intention applies), 1 000 intentions', (i) => exactOnly.decide(strangers[i % N]!, plain)],
  ['L7, 10 permissions, the last hits (regex path)', () => l7.decide('web', l7Request)],
  [
    'InboundAuthorizer.check, mTLS request (verdict cached, counted)',
    () => authorizer.check(tlsRequest, undefined),
  ],
];

const ns = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let run = 0; run < RUNS; run++) {
  for (const [name, fn] of cases) ns.get(name)!.push(measureNs(name, fn, ITERATIONS, 7).ns);
}
const base = ns.get(cases[0]![0])!;
const rows = cases.map(([name]) => {
  const values = ns.get(name)!;
  return {
    case: name,
    'ns/op': fmtSpread(spread(values)),
    'over Map.get, ns': name === cases[0]![0] ? '-' : fmtSpread(spread(values.map((v, i) => v - base[i]!))),
  };
});
printTable(
  `IntentionTable.decide(), Node ${process.version}; median (min–max) of ${RUNS} interleaved runs`,
  rows,
);
const l4 = spread(ns.get(cases[1]![0])!).median;
console.log(`\nL4 decision: ${l4.toFixed(1)} ns (goal < 1000 ns)`);
writeResults('authz-decision', {
  node: process.version,
  iterations: ITERATIONS,
  runs: RUNS,
  results: Object.fromEntries(ns),
  rows,
});
