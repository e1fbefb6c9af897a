// Time to reject the most hostile rule documents under Consul's 512 KiB limit (each instance
// parses every key of its prefix, on its event loop), and, for reference, to parse and validate
// a large valid routes document.
// Run: node_modules/.bin/node bench/rule-parse.bench.ts (build @meshless/canary first).
import { routesSection } from '@meshless/canary';
import {
  MAX_JSON_NODES,
  MAX_RULE_ALIASES,
  MAX_RULE_DEPTH,
  MAX_RULE_NODES,
  parseAndValidate,
  RuleError,
} from '@meshless/core';
import { median, printTable, writeResults } from './lib/measure.ts';

const LIMIT = 500 * 1024;
const fill = (unit: (i: number) => string, head = '', tail = '') => {
  let out = head;
  for (let i = 0; out.length + tail.length < LIMIT; i++) out += unit(i);
  return out + tail;
};

const hostile: [string, string][] = [
  ['YAML [[[[ 200 000 deep (400 KB)', `subsets: ${'['.repeat(200_000)}${']'.repeat(200_000)}`],
  ['JSON [[[[ 200 000 deep (400 KB)', `{"subsets": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`],
  ['YAML - - - - ... (500 KB)', fill(() => '- ', '', 'x')],
  ['YAML block indentation, 1 space per level', fill((i) => `${' '.repeat(i)}k:\n`)],
  ['YAML ? ? ? explicit keys (500 KB)', fill(() => '? ', '', 'x')],
  ['YAML flow map {k0: 0, k1: 1, ...} (500 KB)', fill((i) => `k${i}: ${i}, `, 'x: {', '}')],
  ['YAML block map k0: 0 ... (500 KB)', fill((i) => `k${i}: ${i}\n`)],
  ['YAML block list - 1 ... (500 KB)', fill(() => '- 1\n')],
  ['JSON list [0,0,0,...] (500 KB)', fill(() => '0,', '[', '0]')],
  ['YAML aliases *a, *a, ... (500 KB)', fill(() => '*a, ', 'a: &a x\nb: [', '*a]')],
  ['YAML unknown tag !evil', 'subsets:\n  v1: !evil { meta: {} }\n'],
  ['JSON __proto__ in subset meta', '{"subsets":{"v1":{"meta":{"__proto__":{"version":"v1"}}}}}'],
  ['YAML 500 KB quoted string (schema rejects)', fill(() => 'a', 'x: "', '"')],
  ['YAML 500 KB of comments', fill(() => '# [[[[ - - - {{{{\n')],
  ['YAML 500 KB block scalar (schema rejects)', fill(() => '  - - [[[[ text\n', 'x: |\n')],
  // The most a document can cost and still reach the parser: just under the entry limit.
  [
    'YAML largest map the pre-scan lets through',
    Array.from({ length: MAX_RULE_NODES / 2 - 1 }, (_, i) => `k${i}: ${i}`).join('\n'),
  ],
  [
    'JSON largest map the pre-scan lets through',
    `{${Array.from({ length: MAX_JSON_NODES / 2 - 1 }, (_, i) => `"k${i}": ${i}`).join(',')}}`,
  ],
];

function largeValid(format: 'yaml' | 'json', routeCount: number): string {
  const subsets: Record<string, { meta: Record<string, string> }> = {};
  for (let i = 0; i < 20; i++) subsets[`v${i}`] = { meta: { version: `v${i}` } };
  const routes = Array.from({ length: routeCount }, (_, i) => ({
    name: `r${i}`,
    match: {
      headers: { 'x-group': { exact: `g${i}` } },
      path: { prefix: `/api/${i}/` },
      method: ['GET', 'HEAD'],
    },
    to: [
      { subset: `v${i % 20}`, weight: 90 },
      { subset: `v${(i + 1) % 20}`, weight: 10 },
    ],
  }));
  const doc = { subsets, routes };
  if (format === 'json') return JSON.stringify(doc, null, 2);
  // Block style, as an operator writes it.
  const lines = ['subsets:'];
  for (const [name, s] of Object.entries(subsets))
    lines.push(`  ${name}:`, `    meta: { version: ${s.meta.version} }`);
  lines.push('routes:');
  for (const r of routes) {
    lines.push(
      `  - name: ${r.name}`,
      '    match:',
      `      headers: { x-group: { exact: ${r.match.headers['x-group'].exact} } }`,
      `      path: { prefix: ${r.match.path.prefix} }`,
      '      method: [GET, HEAD]',
      '    to:',
      ...r.to.flatMap((d) => [`      - subset: ${d.subset}`, `        weight: ${d.weight}`]),
    );
  }
  return `${lines.join('\n')}\n`;
}

const RUNS = 9;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function time(text: string): { ms: number[]; outcome: string } {
  const ms: number[] = [];
  let outcome = '';
  for (let run = 0; run < RUNS + 1; run++) {
    gc();
    const start = process.hrtime.bigint();
    try {
      parseAndValidate(routesSection, text, 'meshless/services/bench/routes');
      outcome = 'valid';
    } catch (error) {
      if (!(error instanceof RuleError)) throw error;
      outcome = error.message.length > 70 ? `${error.message.slice(0, 67)}...` : error.message;
    }
    // The first run warms the JIT up.
    if (run > 0) ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms, outcome };
}

const rows: Record<string, string | number>[] = [];
let worstRejected = 0;
let worstPrescan = 0;
for (const [name, text] of hostile) {
  const { ms, outcome } = time(text);
  const worst = Math.max(...ms);
  if (outcome !== 'valid') worstRejected = Math.max(worstRejected, worst);
  // `line N: ...` comes from the pre-scan, before any parser ran.
  if (/^line \d+: /.test(outcome)) worstPrescan = Math.max(worstPrescan, worst);
  rows.push({
    document: name,
    KB: Math.round(text.length / 1024),
    outcome,
    'median ms': median(ms),
    'worst ms': worst,
    'best ms': Math.min(...ms),
  });
}
// About the largest routes documents the limits let through: YAML counts lines as entries.
for (const [format, routeCount] of [
  ['yaml', 100],
  ['json', 200],
] as const) {
  const text = largeValid(format, routeCount);
  const { ms, outcome } = time(text);
  rows.push({
    document: `large valid routes document, ${format.toUpperCase()} (20 subsets, ${routeCount} routes)`,
    KB: Math.round(text.length / 1024),
    outcome,
    'median ms': median(ms),
    'worst ms': Math.max(...ms),
    'best ms': Math.min(...ms),
  });
}
printTable(
  `parseAndValidate(routes) per document (${RUNS} runs each after a warm-up; limits: depth ${MAX_RULE_DEPTH}, ${MAX_RULE_NODES} YAML / ${MAX_JSON_NODES} JSON entries, ${MAX_RULE_ALIASES} aliases)`,
  rows,
);
console.log(`\nworst document rejected by the pre-scan: ${worstPrescan.toFixed(2)} ms (target < 5 ms)`);
console.log(`worst rejected document overall (it reached the parser): ${worstRejected.toFixed(2)} ms`);
writeResults('rule-parse', {
  runs: RUNS,
  rows,
  worstPrescanMs: worstPrescan,
  worstRejectedMs: worstRejected,
});
