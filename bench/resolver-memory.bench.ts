// Memory and parse time of the resolver for 10,000 endpoints: a synthetic /v1/health/service
// answer (the shape Consul 1.8 returns, two passing checks per instance) parsed by the resolver's
// own parser, held, and fed to a p2c-peak-ewma balancer.
// Needs --expose-gc; re-runs itself with it when missing.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBalancer } from '@meshless/balancer';
import { parseHealthServices } from '@meshless/consul';
import { measureNs, printTable, writeResults } from './lib/measure.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const N = 10_000;
const zones = ['eu-1a', 'eu-1b', 'eu-1c'];

/** One health entry as Consul returns it; `uniqueMeta` adds a per-instance meta key (pod name). */
function healthEntry(i: number, uniqueMeta: boolean): unknown {
  const node = `node-${i >> 4}`;
  const zone = zones[i % 3]!;
  const meta: Record<string, string> = {
    version: i % 10 === 0 ? 'v2' : 'v1',
    zone,
    region: 'eu-1',
    weight: '1',
  };
  if (uniqueMeta) meta.pod = `catalog-${i.toString(36)}-7f9c`;
  return {
    Node: {
      ID: `6a1f2c3d-0000-4000-8000-${(i >> 4).toString(16).padStart(12, '0')}`,
      Node: node,
      Address: `10.1.${(i >> 12) & 255}.${(i >> 4) & 255}`,
      Datacenter: 'dc1',
      TaggedAddresses: { lan: '10.1.0.1', lan_ipv4: '10.1.0.1', wan: '10.1.0.1', wan_ipv4: '10.1.0.1' },
      Meta: { 'consul-network-segment': '' },
      CreateIndex: 11,
      ModifyIndex: 12,
    },
    Service: {
      ID: `catalog-${i}`,
      Service: 'catalog',
      Tags: ['http', 'v1'],
      Address: `10.2.${(i >> 8) & 255}.${i & 255}`,
      Meta: meta,
      Port: 8080,
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
      Proxy: { MeshGateway: {}, Expose: {} },
      Connect: {},
      CreateIndex: 100 + i,
      ModifyIndex: 100 + i,
    },
    Checks: [
      {
        Node: node,
        CheckID: 'serfHealth',
        Name: 'Serf Health Status',
        Status: 'passing',
        Notes: '',
        Output: 'Agent alive and reachable',
        ServiceID: '',
        ServiceName: '',
        ServiceTags: [],
        Type: '',
        Definition: {},
        CreateIndex: 11,
        ModifyIndex: 11,
      },
      {
        Node: node,
        CheckID: `service:catalog-${i}`,
        Name: 'catalog heartbeat',
        Status: 'passing',
        Notes: 'meshless TTL heartbeat every 3333 ms',
        Output: 'meshless heartbeat',
        ServiceID: `catalog-${i}`,
        ServiceName: 'catalog',
        ServiceTags: ['http', 'v1'],
        Type: 'ttl',
        Definition: {},
        CreateIndex: 100 + i,
        ModifyIndex: 100 + i,
      },
    ],
  };
}

function body(uniqueMeta: boolean): string {
  return JSON.stringify(Array.from({ length: N }, (_, i) => healthEntry(i, uniqueMeta)));
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes retained by what `build` returns (kept alive until measured). */
function retained<T>(build: () => T): { value: T; bytes: number } {
  const before = heapUsed();
  const value = build();
  return { value, bytes: heapUsed() - before };
}

// The connection holds the answer as a Buffer and the parser decodes it to a string; measure both.
const raw = retained(() => body(false));
const rawUnique = body(true);
const buffer = Buffer.from(raw.value);
const tree = retained(() => JSON.parse(raw.value) as unknown[]);
const endpoints = retained(() => parseHealthServices(raw.value, 'catalog'));
const endpointsUnique = retained(() => parseHealthServices(rawUnique, 'catalog'));
const picker = retained(() => {
  const b = createBalancer({ algorithm: 'p2c-peak-ewma' });
  b.update(endpoints.value);
  return b;
});
const base = raw.bytes;

const memRows: Record<string, string | number>[] = [
  { what: `raw JSON string (${(buffer.length / 1024).toFixed(0)} KiB UTF-8) [baseline]`, bytes: raw.bytes },
  { what: 'JSON.parse tree of the answer (not kept by the resolver)', bytes: tree.bytes },
  { what: 'parsed endpoints (shared tags/meta)', bytes: endpoints.bytes },
  { what: 'parsed endpoints (unique meta per instance)', bytes: endpointsUnique.bytes },
  { what: 'p2c-peak-ewma balancer over the endpoints', bytes: picker.bytes },
  { what: 'endpoints + balancer', bytes: endpoints.bytes + picker.bytes },
].map((r) => ({
  what: r.what,
  'heap KiB': (r.bytes as number) / 1024,
  'bytes/endpoint': (r.bytes as number) / N,
  'x raw JSON': (r.bytes as number) / base,
}));
printTable(`Resolver memory for ${N} endpoints (heapUsed deltas after gc)`, memRows);

const parseJson = measureNs('JSON.parse only [baseline]', () => JSON.parse(raw.value), 5, 7);
const parseText = measureNs(
  'parseHealthServices(string)',
  () => parseHealthServices(raw.value, 'catalog'),
  5,
  7,
);
const parseBuf = measureNs('parseHealthServices(Buffer)', () => parseHealthServices(buffer, 'catalog'), 5, 7);
const parseUnique = measureNs(
  'parseHealthServices(string, unique meta)',
  () => parseHealthServices(rawUnique, 'catalog'),
  5,
  7,
);
const timeRows = [parseJson, parseText, parseBuf, parseUnique].map((r) => ({
  what: r.name,
  [`ms per ${N}`]: r.ns / 1e6,
  'µs per entry': r.ns / N / 1000,
  'x JSON.parse': r.ns / parseJson.ns,
}));
printTable(`Parse time per ${N}-entry answer (median of 7 rounds x 5)`, timeRows);

writeResults('resolver-memory', {
  n: N,
  bytes: {
    rawJson: raw.bytes,
    rawJsonUtf8: buffer.length,
    jsonParseTree: tree.bytes,
    endpoints: endpoints.bytes,
    endpointsUniqueMeta: endpointsUnique.bytes,
    balancer: picker.bytes,
    endpointsPlusBalancer: endpoints.bytes + picker.bytes,
  },
  parseMsPer10k: {
    jsonParse: parseJson.ns / 1e6,
    string: parseText.ns / 1e6,
    buffer: parseBuf.ns / 1e6,
    uniqueMeta: parseUnique.ns / 1e6,
  },
});
// Keep everything measured alive to the end.
if (tree.value.length + endpoints.value.length + endpointsUnique.value.length === 0)
  console.log(picker.value);
