// Worst-case time of one route-regex match (LinearRegex) for the most hostile patterns the
// validator accepts, on adversarial values up to the input limit and at Node's 16 KiB header
// limit; and the cost of a short header match against V8's RegExp.test.
// Run: node_modules/.bin/node bench/regex-worst-case.bench.ts (build @meshless/canary first).
import {
  LinearRegex,
  MAX_REGEX_INPUT_LENGTH,
  MAX_REGEX_LENGTH,
  MAX_REGEX_STATES,
  regexProblem,
} from '@meshless/canary';
import { seededRandom } from '@meshless/core/testing';
import { measureNs, median, printTable, writeResults } from './lib/measure.ts';

const random = seededRandom(42);
const from = (alphabet: string) => (n: number) =>
  Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]!).join('');
const ab = from('ab');

/** The largest k for which `make(k)` is accepted (state cap, length cap). */
function largest(make: (k: number) => string): string {
  let k = 1;
  while (regexProblem(make(k + 1)) === undefined) k++;
  return make(k);
}

const many = 'cdefghijklmnopqrstuvwxyz0123456789';
const high = Array.from({ length: 64 }, (_, i) => String.fromCharCode(0x100 + i)).join('');
const cases: { name: string; pattern: string; value: (n: number) => string }[] = [
  // DFA blow-up: the automaton must remember the last k characters (2^k DFA states, every
  // step a new one), with the largest set of live NFA states the cap allows.
  { name: 'blow-up [ab]*a[ab]{k}', pattern: largest((k) => `[ab]*a[ab]{${k}}`), value: ab },
  { name: 'blow-up (?:a|b)*a(?:a|b){k}', pattern: largest((k) => `(?:a|b)*a(?:a|b){${k}}`), value: ab },
  { name: 'blow-up nested optional', pattern: largest((k) => `[ab]*a[ab]{0,${k}}`), value: ab },
  // \b / \B on every step: assertions evaluated in the closure, DFA states split by "previous is a word".
  {
    name: 'blow-up with \\b and \\B',
    pattern: largest((k) => `[a-]*a(?:[a-]\\b|[a-]\\B){${k}}`),
    value: from('a-'),
  },
  // 37 classes: big per-state tables, so fewer DFA states fit the cache.
  {
    name: 'blow-up, many classes',
    pattern: largest((k) => `(?:${[...many].join('|')}|a|b)*[^c].{${k}}`),
    value: from(`${many}ab`),
  },
  // Code units over 255 take the binary-search path to their class.
  {
    name: 'blow-up, non-Latin-1 input',
    pattern: largest((k) => `[\\u0100-\\u013f]*[\\u0100-\\u011f][\\u0100-\\u013f]{${k}}`),
    value: from(high),
  },
  { name: 'issue: \\w*\\w*\\w*\\w*!', pattern: '\\w*\\w*\\w*\\w*!', value: (n) => 'a'.repeat(n) },
  {
    name: '.*.* ... (max length)',
    pattern: largest((k) => `${'.*'.repeat(k)}=`),
    value: (n) => 'a'.repeat(n),
  },
  {
    name: 'many alternations',
    pattern: largest(
      (k) =>
        `(?:${Array.from({ length: k }, (_, i) => `a${String.fromCharCode(98 + (i % 24))}`).join('|')})*!`,
    ),
    value: from('abcdefghijklmnopqrstuvwxyz'),
  },
  { name: '(a|aa)+ on a*', pattern: '(a|aa)+b', value: (n) => 'a'.repeat(n) },
];

// Per case: WARM runs first (V8 optimizes the engine's code for the new regex: these are the
// slow ones, reported apart), then RUNS measured runs.
const WARM = 3;
const RUNS = 9;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

// The very first hostile match of a process runs before the JIT has optimized the engine.
const cold = new LinearRegex(cases[0]!.pattern);
const coldValue = cases[0]!.value(MAX_REGEX_INPUT_LENGTH);
const coldStart = process.hrtime.bigint();
cold.test(coldValue);
const coldMs = Number(process.hrtime.bigint() - coldStart) / 1e6;

const worstRows: Record<string, string | number>[] = [];
let overallWorst = 0;
let overallWorstCpu = 0;
let overallWarm = 0;
for (const c of cases) {
  const problem = regexProblem(c.pattern);
  if (problem) throw new Error(`${c.name}: ${problem}`);
  const compileStart = process.hrtime.bigint();
  const re = new LinearRegex(c.pattern);
  const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;
  for (const length of [MAX_REGEX_INPUT_LENGTH, 16 * 1024]) {
    const ms: number[] = [];
    const cpuMs: number[] = [];
    const warmMs: number[] = [];
    for (let run = 0; run < WARM + RUNS; run++) {
      const value = c.value(length); // a fresh adversarial value each run, same regex
      gc();
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      re.test(value);
      const took = Number(process.hrtime.bigint() - start) / 1e6;
      const used = process.cpuUsage(cpu);
      if (run < WARM) {
        warmMs.push(took);
        continue;
      }
      ms.push(took);
      cpuMs.push((used.user + used.system) / 1000);
    }
    const worst = Math.max(...ms);
    overallWorst = Math.max(overallWorst, worst);
    overallWorstCpu = Math.max(overallWorstCpu, ...cpuMs);
    overallWarm = Math.max(overallWarm, ...warmMs);
    worstRows.push({
      case: c.name,
      'pattern chars': c.pattern.length,
      'NFA states': re.nfa.size,
      classes: re.nfa.classes,
      'compile ms': compileMs,
      'value length': length,
      'first runs ms (max)': Math.max(...warmMs),
      'best ms': Math.min(...ms),
      'median ms': median(ms),
      'worst ms': worst,
      'worst CPU ms': Math.max(...cpuMs),
    });
  }
}
printTable(
  `LinearRegex.test() worst cases (${WARM} first runs, then ${RUNS} measured; caps: ${MAX_REGEX_LENGTH} chars, ${MAX_REGEX_STATES} states, values over ${MAX_REGEX_INPUT_LENGTH} do not match)`,
  worstRows,
);
// Wall time includes being descheduled on a busy machine; CPU time does not.
console.log(
  `\nworst single match: ${overallWorst.toFixed(2)} ms wall, ${overallWorstCpu.toFixed(2)} ms CPU (target < 5 ms)`,
);
console.log(`first runs of each new regex (JIT warm-up), worst: ${overallWarm.toFixed(2)} ms`);
console.log(`first hostile match of the process (cold JIT): ${coldMs.toFixed(2)} ms`);

// Short header values: the hot path, ours vs V8 (which is fine on these benign patterns).
const short: [string, string][] = [
  ['beta-(eu|us)', 'beta-eu'],
  ['/items/\\d+/reviews', '/items/42/reviews'],
  ['(?:x-)?user-\\d{1,6}', 'x-user-123456-extra!'],
  ['[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '3f2b9c1e-8a4d-4c2e-9f1a-7b6d5e4c3b2a'],
  ['.*\\bbeta\\b.*', 'group=beta; region=eu'],
];
const shortRows: Record<string, string | number>[] = [];
for (const [pattern, value] of short) {
  const ours = new LinearRegex(pattern);
  const v8 = new RegExp(`^(?:${pattern})$`);
  if (ours.test(value) !== v8.test(value)) throw new Error(`${pattern}: engines disagree`);
  const a = measureNs(`ours ${pattern}`, () => ours.test(value));
  const b = measureNs(`v8 ${pattern}`, () => v8.test(value));
  shortRows.push({
    pattern,
    'value length': value.length,
    'LinearRegex ns': a.ns,
    'V8 RegExp.test ns': b.ns,
    'x V8': a.ns / b.ns,
  });
}
printTable('short header match: LinearRegex vs V8 RegExp.test (median of 7 rounds)', shortRows);

writeResults('regex-worst-case', {
  node: process.version,
  limits: {
    maxRegexLength: MAX_REGEX_LENGTH,
    maxRegexStates: MAX_REGEX_STATES,
    maxInputLength: MAX_REGEX_INPUT_LENGTH,
  },
  overallWorstMs: overallWorst,
  overallWorstCpuMs: overallWorstCpu,
  coldFirstMatchMs: coldMs,
  firstRunsWorstMs: overallWarm,
  worst: worstRows,
  short: shortRows,
});
