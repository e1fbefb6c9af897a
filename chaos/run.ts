// `npm run chaos`: every fault scenario in chaos/scenarios/, one after another, each in its own
// Node process and process group (the Consul agents, instances and backends it starts are in that
// group), killed whole when it ends or when its hard time bound passes. Prints one table
// (scenario | fault | expectation | measured | pass), writes chaos/results/<scenario>.json and
// summary.json, and exits 1 if any check failed.
//   npm run chaos                 all scenarios
//   npm run chaos -- --fast       the fast subset (CI)
//   npm run chaos -- kill hung    scenarios whose names contain "kill" or "hung"
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, writeResults } from '../bench/lib/measure.ts';
import type { ChaosScenario, ScenarioResult } from './lib/scenario.ts';
import { scenarios } from './scenarios/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
const args = process.argv.slice(2);
const fast = args.includes('--fast');
const filters = args.filter((a) => !a.startsWith('--'));
const chosen = scenarios
  .filter((s) => !fast || s.fast)
  .filter((s) => filters.length === 0 || filters.some((f) => s.name.includes(f)));
if (chosen.length === 0) {
  console.error(
    `no scenario matches ${args.join(' ')}; scenarios: ${scenarios.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}

let current: number | undefined;
const killGroup = (pid: number | undefined) => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    killGroup(current);
    process.exit(130);
  });

async function runOne(scenario: ChaosScenario): Promise<ScenarioResult> {
  const file = join(resultsDir, `${scenario.name}.json`);
  mkdirSync(resultsDir, { recursive: true });
  rmSync(file, { force: true });
  const started = performance.now();
  const child = spawn(process.execPath, [join(here, 'lib', 'child.ts'), scenario.name], {
    stdio: 'inherit',
    detached: true, // its own process group: one kill reaches everything it started
    env: { ...process.env, CHAOS_RESULT_FILE: file },
  });
  current = child.pid;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, scenario.timeoutMs);
  const exit = await new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(String(code ?? signal))),
  );
  clearTimeout(timer);
  killGroup(child.pid); // whatever it left running (an agent, an instance) goes with it
  current = undefined;
  const durationMs = performance.now() - started;
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult), durationMs };
  const error = timedOut
    ? `killed at its ${scenario.timeoutMs} ms bound`
    : `exited (${exit}) without a result`;
  return { name: scenario.name, fault: scenario.fault, checks: [], figures: {}, durationMs, error };
}

const results: ScenarioResult[] = [];
const started = performance.now();
for (const scenario of chosen) {
  console.log(`\n## chaos: ${scenario.name} (${scenario.fault})`);
  const result = await runOne(scenario);
  writeResults(scenario.name, result, resultsDir);
  results.push(result);
}

const rows: Record<string, string>[] = [];
let failed = 0;
for (const r of results) {
  const checks = r.error
    ? [
        ...r.checks,
        { expectation: 'the scenario ran to its end', measured: r.error.split('\n')[0]!, pass: false },
      ]
    : r.checks;
  if (checks.some((c) => !c.pass)) failed++;
  checks.forEach((c, i) => {
    rows.push({
      scenario: i === 0 ? `${r.name} (${(r.durationMs / 1000).toFixed(1)} s)` : '',
      fault: i === 0 ? r.fault : '',
      expectation: c.expectation,
      measured: c.measured.replaceAll('|', '/'), // a bar would split the Markdown cell
      pass: c.pass ? 'yes' : 'NO',
    });
  });
}
const totalS = (performance.now() - started) / 1000;
printTable(`chaos${fast ? ' --fast' : ''}: ${results.length} scenarios in ${totalS.toFixed(1)} s`, rows);
writeResults('summary', { fast, totalMs: Math.round(totalS * 1000), results }, resultsDir);
console.log(
  `\nchaos: ${results.length - failed} of ${results.length} scenarios passed; JSON in chaos/results/`,
);
process.exit(failed ? 1 : 0);
