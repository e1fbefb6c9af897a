// Heap held by 10,000 endpoints and by built balancers over them (stats + pickers).
// Needs --expose-gc: node_modules/.bin/node --expose-gc bench/balancer-memory.bench.ts
import { type BalancerRule, createBalancer } from '@meshless/balancer';
import type { Endpoint } from '@meshless/core';
import { printTable, writeResults } from './lib/measure.ts';

const N = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc (node_modules/.bin/node --expose-gc bench/balancer-memory.bench.ts)');
  process.exit(1);
}

interface Usage {
  heap: number;
  buffers: number;
}

function usage(): Usage {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

/** Bytes retained by what `build` returns (kept alive until measured). */
function retained<T>(build: () => T): { value: T; heap: number; buffers: number } {
  const before = usage();
  const value = build();
  const after = usage();
  return { value, heap: after.heap - before.heap, buffers: after.buffers - before.buffers };
}

const zones = ['eu-1a', 'eu-1b', 'eu-1c'];
const endpoints = retained(() =>
  Array.from(
    { length: N },
    (_, i): Endpoint => ({
      id: `catalog-${i}@node-${i >> 4}`,
      service: 'catalog',
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 8080,
      tags: ['http'],
      meta: { version: i % 10 === 0 ? 'v2' : 'v1', zone: zones[i % 3]! },
      weight: 1,
      zone: zones[i % 3]!,
      region: 'eu-1',
    }),
  ),
);

const stacks: { name: string; rule: BalancerRule; local?: boolean }[] = [
  { name: 'p2c-peak-ewma + outlier', rule: { algorithm: 'p2c-peak-ewma', outlier: {} } },
  {
    name: 'p2c-peak-ewma + outlier + locality',
    rule: { algorithm: 'p2c-peak-ewma', outlier: {}, locality: { enabled: true } },
    local: true,
  },
  { name: 'ring-hash', rule: { algorithm: 'ring-hash', hashOn: { header: 'x-user-id' } } },
  { name: 'maglev (65537)', rule: { algorithm: 'maglev', hashOn: { header: 'x-user-id' } } },
];

const rows: Record<string, string | number>[] = [
  {
    what: `${N} Endpoint objects (baseline)`,
    'heap KiB': endpoints.heap / 1024,
    'array buffers KiB': endpoints.buffers / 1024,
    'bytes/endpoint': (endpoints.heap + endpoints.buffers) / N,
    'x endpoints': 1,
  },
];
const results: Record<string, { heap: number; buffers: number }> = { endpoints: endpoints };
const keep: unknown[] = [];
for (const s of stacks) {
  const r = retained(() => {
    const b = createBalancer(s.rule, s.local ? { localZone: 'eu-1a', localRegion: 'eu-1' } : {});
    b.update(endpoints.value);
    return b;
  });
  keep.push(r.value);
  results[s.name] = { heap: r.heap, buffers: r.buffers };
  rows.push({
    what: `+ ${s.name} (stats + picker)`,
    'heap KiB': r.heap / 1024,
    'array buffers KiB': r.buffers / 1024,
    'bytes/endpoint': (r.heap + r.buffers) / N,
    'x endpoints': (r.heap + r.buffers) / (endpoints.heap + endpoints.buffers),
  });
}

printTable(`Balancer memory for ${N} endpoints (heapUsed + arrayBuffers deltas after gc)`, rows);
writeResults('balancer-memory', results);
if (keep.length === 0) console.log(endpoints.value.length);
