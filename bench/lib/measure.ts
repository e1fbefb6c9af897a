// Small benchmark helpers shared by every bench/*.bench.ts script. Plain Node 24 (type
// stripping): only erasable TypeScript here, relative imports with `.ts` extensions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NsResult {
  name: string;
  /** Mean nanoseconds per operation over the timed rounds (median of rounds). */
  ns: number;
  ops: number;
}

/**
 * Times `fn` in `rounds` rounds of `iterations` calls each after a warm-up, and returns the
 * median ns/op. Synchronous work only; use measureAsyncNs for promises.
 */
export function measureNs(
  name: string,
  fn: (i: number) => unknown,
  iterations = 200_000,
  rounds = 7,
): NsResult {
  for (let i = 0; i < Math.min(iterations, 50_000); i++) fn(i);
  const samples: number[] = [];
  let sink: unknown;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = fn(i);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  if (sink === Symbol.for('never')) console.log(sink);
  return { name, ns: median(samples), ops: iterations * rounds };
}

/** Like measureNs, awaiting each call in turn. */
export async function measureAsyncNs(
  name: string,
  fn: (i: number) => Promise<unknown>,
  iterations = 100_000,
  rounds = 7,
): Promise<NsResult> {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) await fn(i);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn(i);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return { name, ns: median(samples), ops: iterations * rounds };
}

/**
 * Each case measured `passes` times, the passes interleaved (so load from elsewhere hits every
 * case alike); the fastest pass of each case is kept, by name.
 */
export async function bestOfPasses(
  cases: readonly (readonly [string, (i: number) => Promise<unknown>, ...unknown[]])[],
  passes: number,
  iterations: number,
  rounds: number,
): Promise<Map<string, NsResult>> {
  const best = new Map<string, NsResult>();
  for (let pass = 0; pass < passes; pass++) {
    for (const [name, run] of cases) {
      const r = await measureAsyncNs(name, run, iterations, rounds);
      const prev = best.get(name);
      if (!prev || r.ns < prev.ns) best.set(name, r);
    }
  }
  return best;
}

export interface Passes {
  /** Per case, each pass's wall ns/op (the median of its rounds). */
  ns: Map<string, number[]>;
  /** Per case, each pass's CPU ns/op of this process (user + system over all its rounds). */
  cpuNs: Map<string, number[]>;
}

/**
 * Each case measured `passes` times, the passes interleaved (so load from elsewhere hits every
 * case alike); returns every pass's figures, by name, so a table can show the spread over passes
 * and not only the best. CPU beside wall time tells work from waiting (a timer, I/O).
 */
export async function passesOf(
  cases: readonly (readonly [string, (i: number) => Promise<unknown>, ...unknown[]])[],
  passes: number,
  iterations: number,
  rounds: number,
  /** Awaited after the warm-up and after each round, outside the timing (e.g. a span flush). */
  between?: () => Promise<void>,
): Promise<Passes> {
  const ns = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  const cpuNs = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let pass = 0; pass < passes; pass++) {
    for (const [name, run] of cases) {
      for (let i = 0; i < Math.min(iterations, 20_000); i++) await run(i);
      await between?.();
      const samples: number[] = [];
      let cpuUs = 0;
      for (let r = 0; r < rounds; r++) {
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        for (let i = 0; i < iterations; i++) await run(i);
        samples.push(Number(process.hrtime.bigint() - start) / iterations);
        const used = process.cpuUsage(cpu);
        cpuUs += used.user + used.system;
        await between?.();
      }
      ns.get(name)!.push(median(samples));
      cpuNs.get(name)!.push((cpuUs * 1000) / (iterations * rounds));
    }
  }
  return { ns, cpuNs };
}

/** `BENCH_QUICK=1` shrinks counts tenfold: for writing and debugging a bench, not for figures. */
export function scaled(n: number): number {
  return process.env.BENCH_QUICK === '1' ? Math.max(1, Math.round(n / 10)) : n;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many values (runs, passes or rounds) the spread is over. */
  n: number;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** `values[i] <op> base[i]`, pairwise: ratios or differences within the same pass or round. */
export function pairwise(
  values: readonly number[],
  base: readonly number[],
  op: (a: number, b: number) => number,
): number[] {
  return values.map((v, i) => op(v, base[i]!));
}

/** "1.02 (0.98–1.05)": the median and the range, with the digits of `digits` (default: by size). */
export function fmtSpread(s: Spread, digits?: number): string {
  const f = (v: number) => (digits === undefined ? fmt(v) : v.toFixed(digits));
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile (0..1) of values, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Prints rows as an aligned Markdown table (so it pastes into an issue note as is). */
export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]!);
  const cells = rows.map((r) => headers.map((h) => fmt(r[h])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (parts: string[]) => `| ${parts.map((p, i) => p.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

function fmt(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Writes bench/results/<name>.json (or `<dir>/<name>.json`: chaos/ writes to chaos/results). */
export function writeResults(
  name: string,
  data: unknown,
  dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results'),
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
}
