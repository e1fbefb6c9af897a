// Blast radius of a bad canary (issue 16): meshless's judge (continuous, sequential) against a
// Flagger-style policy (1 min interval, 5 failed checks, absolute thresholds) on the same seeded
// traffic: 50 req/s, 10 % to the canary, the canary failing 5 % of requests or 3x slower.
// Run: npm run bench -- rollout-blast (BENCH_QUICK=1 for fewer runs).
import { judge, rollout } from '@meshless/cli';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { type Random, seededRandom } from '@meshless/core';
import { createMesh, type Mesh } from 'meshless';
import {
  addRequests,
  emptyCells,
  poisson,
  SIM_BOUNDS,
  type SimCells,
  type SimTraffic,
  simWindow,
  sumCells,
} from '../packages/cli/src/rollout/simulated-traffic.ts';
import { fmtSpread, printTable, quantile, scaled, spread, writeResults } from './lib/measure.ts';

const RPS = 50;
const WEIGHT = 10;
// Flagger's analysis: interval 1m, threshold 5, request-success-rate >= 99 %, request-duration
// p99 below a fixed bound (here 50 ms: stable's p99 is ~32 ms at a 10 ms median).
const FLAGGER = { intervalS: 60, threshold: 5, maxErrorPercent: 1, maxP99Ms: 50 };

type Traffic = SimTraffic;
type Cells = SimCells;
const BOUNDS = SIM_BOUNDS;
const empty = emptyCells;
const sum = sumCells;
const win = simWindow;

/** One second of a subset's traffic: requests, failures and a latency histogram. */
function second(random: Random, rps: number, t: Traffic): Cells {
  const c = empty();
  addRequests(random, c, poisson(random, rps), t);
  return c;
}

function p99(c: Cells): number {
  const rank = 0.99 * c.requests;
  let seen = 0;
  for (let i = 0; i < c.counts.length; i++) {
    const lower = i === 0 ? 0 : BOUNDS[i - 1]!;
    const upper = BOUNDS[i] ?? BOUNDS.at(-1)!;
    if (c.counts[i]! > 0 && seen + c.counts[i]! >= rank)
      return lower + ((upper - lower) * (rank - seen)) / c.counts[i]!;
    seen += c.counts[i]!;
  }
  return BOUNDS.at(-1)!;
}

/** The traffic of one run, second by second, for `seconds` at a fixed weight. */
function traffic(seed: number, seconds: number, weight: number, stable: Traffic, canary: Traffic) {
  const r = seededRandom(seed);
  const out: { stable: Cells; canary: Cells }[] = [];
  for (let t = 0; t < seconds; t++) {
    out.push({
      canary: second(r, (RPS * weight) / 100, canary),
      stable: second(r, (RPS * (100 - weight)) / 100, stable),
    });
  }
  return out;
}

/**
 * Stable's latency before the step, as the controller reads it before its first weight write
 * (BASELINE_S seconds of stable at the full rate): it shapes the sequential latency test.
 */
const BASELINE_S = 2;
function baseline(seed: number, stable: Traffic) {
  const r = seededRandom(seed ^ 0x5eed);
  const c = sum(Array.from({ length: BASELINE_S }, () => second(r, RPS, stable)));
  return { bounds: BOUNDS, counts: c.counts };
}

/** meshless: judged every second on the step's cumulative counts; promotion every 5 s. */
function meshless(
  run: readonly { stable: Cells; canary: Cells }[],
  before: ReturnType<typeof baseline>,
): { at?: number; promoted?: number } {
  let stable = empty();
  let canary = empty();
  for (let t = 1; t <= run.length; t++) {
    stable = sum([stable, run[t - 1]!.stable]);
    canary = sum([canary, run[t - 1]!.canary]);
    const v = judge([win('v1', stable), win('v2', canary)], 'v2', 'v1', undefined, before);
    if (v.decision === 'rollback') return { at: t };
    if (v.decision === 'promote' && t % 5 === 0) return { promoted: t };
  }
  return {};
}

/**
 * A lower bound, not a policy: Wald's sequential test told both true error rates (canary 5 %,
 * stable 0.1 %) at the same false-rollback bound (1 in 1 000). Among tests with those error
 * chances it needs the fewest requests on average (Wald-Wolfowitz), so no judge that has to learn
 * the rates from the traffic decides sooner on average.
 */
function oracle(run: readonly { canary: Cells }[], bad = 0.05, good = 0.001): { at?: number } {
  const perError = Math.log(bad / good);
  const perSuccess = Math.log((1 - bad) / (1 - good));
  let llr = 0;
  for (let t = 1; t <= run.length; t++) {
    const c = run[t - 1]!.canary;
    llr += c.errors * perError + (c.requests - c.errors) * perSuccess;
    if (llr >= Math.log(1000)) return { at: t };
  }
  return {};
}

function flaggerCheckFails(c: Cells): boolean {
  const errorPercent = c.requests === 0 ? 0 : (100 * c.errors) / c.requests;
  return errorPercent > FLAGGER.maxErrorPercent || p99(c) > FLAGGER.maxP99Ms;
}

/** Flagger-style: a check per interval on that interval's traffic; rollback at the 5th failed check. */
function flagger(run: readonly { stable: Cells; canary: Cells }[]): { at?: number } {
  let failed = 0;
  for (let end = FLAGGER.intervalS; end <= run.length; end += FLAGGER.intervalS) {
    if (flaggerCheckFails(sum(run.slice(end - FLAGGER.intervalS, end).map((s) => s.canary)))) failed++;
    if (failed >= FLAGGER.threshold) return { at: end };
  }
  return {};
}

const failedBefore = (run: readonly { canary: Cells }[], t: number) =>
  run.slice(0, t).reduce((n, s) => n + s.canary.errors, 0);
const canaryBefore = (run: readonly { canary: Cells }[], t: number) =>
  run.slice(0, t).reduce((n, s) => n + s.canary.requests, 0);

const HEALTHY: Traffic = { errorRate: 0.001, medianMs: 10 };
const scenarios: { name: string; canary: Traffic; slow: boolean }[] = [
  { name: '5 % failing', canary: { errorRate: 0.05, medianMs: 10 }, slow: false },
  { name: '3x slower', canary: { errorRate: 0.001, medianMs: 30 }, slow: true },
];
const runs = scaled(200);
const horizon = 600;
const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown> = { runs, rps: RPS, weight: WEIGHT, flagger: FLAGGER };
for (const sc of scenarios) {
  const m = { t: [] as number[], blast: [] as number[] };
  const o = { t: [] as number[] };
  const f = { t: [] as number[], blast: [] as number[] };
  for (let seed = 0; seed < runs; seed++) {
    const run = traffic(seed, horizon, WEIGHT, HEALTHY, sc.canary);
    const mt = meshless(run, baseline(seed, HEALTHY)).at ?? horizon;
    if (!sc.slow) o.t.push(oracle(run).at ?? horizon);
    const ft = flagger(run).at ?? horizon;
    // Blast radius: failed requests (or, for a slow canary, requests served slow) before the decision.
    const cost = sc.slow ? canaryBefore : failedBefore;
    m.t.push(mt);
    m.blast.push(cost(run, mt));
    f.t.push(ft);
    f.blast.push(cost(run, ft));
  }
  const ratio = spread(f.blast).median / Math.max(1, spread(m.blast).median);
  for (const [who, x] of [
    ['meshless', m],
    ['Flagger-style', f],
    ...(sc.slow ? [] : ([['lower bound: Wald, rates known', { t: o.t, blast: [] }]] as const)),
  ] as const) {
    if (x.blast.length === 0) {
      rows.push({
        canary: `${sc.name} (blast: failed requests)`,
        policy: who,
        'decision s, median (min–max)': fmtSpread(spread(x.t), 0),
        'p90 s': quantile(x.t, 0.9),
        'within 10 s': `${Math.round((100 * x.t.filter((t) => t <= 10).length) / runs)} %`,
        'blast radius, median (min–max)': '-',
        'blast vs meshless': '-',
      });
      continue;
    }
    rows.push({
      canary: `${sc.name} (blast: ${sc.slow ? 'requests served slow' : 'failed requests'})`,
      policy: who,
      'decision s, median (min–max)': fmtSpread(spread(x.t), 0),
      'p90 s': quantile(x.t, 0.9),
      'within 10 s': `${Math.round((100 * x.t.filter((t) => t <= 10).length) / runs)} %`,
      'blast radius, median (min–max)': fmtSpread(spread(x.blast), 0),
      'blast vs meshless': who === 'meshless' ? '1x' : `${ratio.toFixed(1)}x`,
    });
  }
  results[sc.name] = {
    meshless: { seconds: spread(m.t), blast: spread(m.blast) },
    flagger: { seconds: spread(f.t), blast: spread(f.blast) },
    ...(sc.slow ? {} : { lowerBound: { seconds: spread(o.t) } }),
  };
}
printTable(
  `A bad canary at ${WEIGHT} % of ${RPS} req/s, ${runs} seeded runs: decision time and blast radius`,
  rows,
);

// False rollbacks of a healthy canary (0.5 % errors on both sides, same latency; and one 1.3x
// slower, inside the 2x latency bound): meshless over its default plan (1, 5, 25, 50 %, each step
// up to 65 s), Flagger-style over 5 checks (10-50 %).
const same: Traffic = { errorRate: 0.005, medianMs: 10 };
const littleSlower: Traffic = { errorRate: 0.005, medianMs: 13 };
const falseRows: Record<string, string | number>[] = [];
const falseResults: Record<string, unknown> = {};
const rolledBack = (seed: number, canary: Traffic) =>
  [1, 5, 25, 50].some(
    (weight, i) =>
      meshless(traffic(seed + i, 65, weight, same, canary), baseline(seed + i, same)).at !== undefined,
  );
for (const plans of [20, scaled(1000)]) {
  let mFalse = 0;
  let mSlowerFalse = 0;
  let fFalse = 0;
  for (let seed = 0; seed < plans; seed++) {
    if (rolledBack(100_000 + seed * 10, same)) mFalse++;
    if (rolledBack(300_000 + seed * 10, littleSlower)) mSlowerFalse++;
    let failed = 0;
    for (const [i, weight] of [10, 20, 30, 40, 50].entries()) {
      const c = sum(traffic(200_000 + seed * 10 + i, 60, weight, same, same).map((s) => s.canary));
      if (flaggerCheckFails(c)) failed++;
    }
    if (failed >= FLAGGER.threshold) fFalse++;
  }
  falseRows.push({
    'healthy rollouts': plans,
    meshless: mFalse,
    'meshless, canary 1.3x slower': mSlowerFalse,
    'Flagger-style': fFalse,
  });
  falseResults[String(plans)] = { meshless: mFalse, meshlessLittleSlower: mSlowerFalse, flagger: fFalse };
}
printTable('False rollbacks of a healthy canary (0.5 % errors on both sides)', falseRows);

// Real: rollback applied fleet-wide. One dev agent, FLEET meshes (in this process) watching the
// prefix; the controller at 10 % judges a bad canary (fixed figures) at its first look and writes
// weight 0; from the decision (its log line) to each mesh having the new routes index in force.
const FLEET = 20;
const APPLY_RUNS = scaled(10);
const agent = await ConsulDevAgent.start();
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);
const prefix = `bench-blast-${process.pid}`;
const fleet: Mesh[] = [];
const everywhere: number[] = [];
const each: number[] = [];
try {
  for (let i = 0; i < FLEET; i++) {
    fleet.push(
      await createMesh({ consul: { address: agent.address }, prefix, cacheDir: false, logger: 'silent' }),
    );
  }
  const bad = [
    win('stable', { requests: 900, errors: 1, counts: [] }),
    win('canary', { requests: 100, errors: 10, counts: [] }),
  ];
  for (let run = 0; run < APPLY_RUNS; run++) {
    const service = `catalog${run}`;
    const key = `${prefix}/services/${service}/routes`;
    await kv.put(key, {
      subsets: { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } },
      routes: [
        {
          name: 'default',
          to: [
            { subset: 'stable', weight: 90 },
            { subset: 'canary', weight: 10 },
          ],
        },
      ],
    });
    let decidedAt = 0;
    const result = await rollout({
      connection,
      prefix,
      service,
      plan: [10, 100],
      canary: 'canary',
      intervalMs: 1000,
      signals: { subsetWindows: async () => bad },
      lock: { lockDelayMs: 0 },
      log: (line) => {
        if (/: rollback: /.test(line)) decidedAt = performance.now();
      },
    });
    if (result.outcome !== 'rolled-back') throw new Error(`run ${run}: ${result.outcome}: ${result.reason}`);
    const index = (await kv.get(key))!.modifyIndex;
    const applied = fleet.map(() => Number.NaN);
    const deadline = performance.now() + 10_000;
    // Polled every ms: the figures are good to about a millisecond.
    while (applied.some(Number.isNaN) && performance.now() < deadline) {
      fleet.forEach((m, i) => {
        if (
          Number.isNaN(applied[i]!) &&
          m.status().rules.keys.some((k) => key.endsWith(k.key) && k.appliedIndex === index)
        ) {
          applied[i] = performance.now() - decidedAt;
        }
      });
      await new Promise((r) => setTimeout(r, 1));
    }
    everywhere.push(Math.max(...applied.map((a) => (Number.isNaN(a) ? Number.POSITIVE_INFINITY : a))));
    each.push(...applied);
  }
} finally {
  await Promise.all(fleet.map((m) => m.close()));
  connection.close();
  await agent.stop();
}
printTable(`Rollback applied fleet-wide (real Consul dev agent, ${FLEET} meshes, ${APPLY_RUNS} rollbacks)`, [
  {
    'decision to applied everywhere, ms': fmtSpread(spread(everywhere), 1),
    'each mesh, ms: median': quantile(each, 0.5).toFixed(1),
    p99: quantile(each, 0.99).toFixed(1),
  },
]);
writeResults('rollout-blast-radius', {
  ...results,
  falseRollbacks: falseResults,
  appliedEverywhereMs: spread(everywhere),
  appliedEachMs: { median: quantile(each, 0.5), p99: quantile(each, 0.99) },
});
