// One scenario in its own process (the runner's child, in its own process group): runs it, runs
// its deferred cleanups, and writes a ScenarioResult to CHAOS_RESULT_FILE. An unhandled rejection
// or uncaught error anywhere in the process fails the scenario: background loops must never
// throw into user code, faults or not.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { scenarios } from '../scenarios/index.ts';
import { type Check, check, type ScenarioResult } from './scenario.ts';

const name = process.argv[2];
const resultFile = process.env.CHAOS_RESULT_FILE;
const scenario = scenarios.find((s) => s.name === name);
if (!scenario || !resultFile) {
  console.error(
    `usage: CHAOS_RESULT_FILE=<file> node chaos/lib/child.ts <${scenarios.map((s) => s.name).join('|')}>`,
  );
  process.exit(2);
}

const stray: string[] = [];
process.on('unhandledRejection', (reason) => stray.push(`unhandled rejection: ${String(reason)}`));
process.on('uncaughtException', (error) => stray.push(`uncaught: ${String(error)}`));

const cleanups: (() => Promise<unknown> | unknown)[] = [];
const log = (message: string) => process.stderr.write(`  [${scenario.name}] ${message}\n`);
const started = performance.now();
const result: ScenarioResult = {
  name: scenario.name,
  fault: scenario.fault,
  checks: [],
  figures: {},
  durationMs: 0,
};
try {
  const outcome = await scenario.run({ defer: (fn) => cleanups.push(fn), log });
  result.checks = outcome.checks;
  result.figures = outcome.figures;
} catch (error) {
  result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
}
for (const cleanup of cleanups.reverse()) {
  // A cleanup stuck on a dead peer must not hold the others up: 10 s each, then the next.
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise((resolve) => {
    timer = setTimeout(() => resolve(log('a cleanup took over 10 s; moving on')), 10_000);
  });
  try {
    await Promise.race([Promise.resolve().then(cleanup), bound]);
  } catch (error) {
    log(`cleanup failed: ${String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
// Late rejections from the teardown count too.
await new Promise((r) => setTimeout(r, 100));
const extra: Check[] = [
  check(
    'nothing thrown into user code (unhandled rejections)',
    stray.length ? stray.slice(0, 3).join('; ') : 'none',
    stray.length === 0,
  ),
];
result.checks.push(...extra);
result.durationMs = performance.now() - started;
mkdirSync(dirname(resultFile), { recursive: true });
writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
// The runner kills the process group after this; exit now rather than wait for stray handles.
process.exit(0);
