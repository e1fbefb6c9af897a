import { parseState, rollout, startRollout, stateKey } from '@meshless/cli';
import type { SignalSource } from 'meshless/contract';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, kvClient } from './helpers/consul.ts';
import { fixedSource, healthyCanary, rolloutSetup, subsetWindow } from './helpers/rollout.ts';

// The rollout controller on a real Consul (KV, check-and-set, sessions), judged from a fake
// SignalSource: the fleet-signals reader is tested on its own (test/fleet-signals.test.ts).
const { kv, connection } = kvClient();
afterAll(() => connection.close());

const routes = {
  subsets: { v1: { meta: { version: 'v1' } }, v2: { meta: { version: 'v2' } } },
  routes: [
    { name: 'beta', match: { headers: { 'x-beta': { exact: '1' } } }, to: [{ subset: 'v2' }] },
    { name: 'default', to: [{ subset: 'v1', weight: 100 }] },
  ],
};

const window = subsetWindow;
const source = fixedSource;
const healthy = healthyCanary;

async function setup(name: string) {
  const { prefix, key, base, cli } = await rolloutSetup(kv, connection, name, routes);
  const canaryWeight = async () => {
    const doc = JSON.parse((await kv.get(key))!.value.toString());
    return doc.routes[1].to.find((d: { subset: string }) => d.subset === 'v2')?.weight ?? 0;
  };
  const state = async () => parseState((await kv.get(stateKey(prefix, 'catalog')))?.value);
  return { prefix, key, base, canaryWeight, state, cli };
}

describe('meshless rollout on a real Consul', () => {
  it('steps a healthy canary to 100 %, leaving other routes alone, each write in history', async () => {
    const { key, base, canaryWeight, state, prefix } = await setup('ro-ok');
    const lines: string[] = [];
    const result = await rollout({ ...base, signals: source(healthy), log: (l) => lines.push(l) });
    expect(result.outcome, result.reason).toBe('promoted');
    expect(await canaryWeight()).toBe(100);
    const doc = JSON.parse((await kv.get(key))!.value.toString());
    expect(doc.routes[0]).toEqual(routes.routes[0]);
    const s = await state();
    expect(s?.status).toBe('promoted');
    expect(s?.decisions.filter((d) => d.decision === 'promote')).toHaveLength(2);
    expect(s?.decisions[0]?.canary?.requests).toBe(2000);
    // Three writes (10, 50, 100): the three versions they replaced are in history.
    expect(await kv.keys(`${prefix}-history/services/catalog/routes/`)).toHaveLength(3);
    expect(lines.some((l) => /step 1\/3 at 10%: promote: .*canary 2000 req 0% err/.test(l))).toBe(true);
    // The lock is released: nobody holds the state key.
    const raw = await connection.json<{ Session?: string }[]>({
      path: `/v1/kv/${stateKey(prefix, 'catalog')}`,
    });
    expect(raw[0]?.Session).toBeUndefined();
  });

  it('rolls a canary failing 5 % back to 0 % at once', async () => {
    const { base, canaryWeight, state } = await setup('ro-bad');
    const result = await rollout({ ...base, signals: source(() => window('v2', 200, 10, 10)) });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/canary errors 5% vs stable 0.11%/);
    expect(await canaryWeight()).toBe(0);
    const s = await state();
    expect(s?.status).toBe('rolled-back');
    expect(s?.decisions.at(-1)).toMatchObject({ decision: 'rollback', weight: 10 });
  });

  it('judges every judgeEveryMs within a long interval: a bad canary does not wait for it', async () => {
    const { base, canaryWeight, state } = await setup('ro-look');
    const calls = { n: 0 };
    const started = performance.now();
    // A healthy canary for the first looks, then failing: caught at a look inside the 60 s interval.
    const result = await rollout({
      ...base,
      intervalMs: 60_000,
      judgeEveryMs: 50,
      signals: source(() => (calls.n < 4 ? healthy() : window('v2', 200, 10, 10)), calls),
    });
    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(calls.n).toBeGreaterThanOrEqual(4);
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(await canaryWeight()).toBe(0);
    // One decision recorded (the rollback), not one per look.
    expect((await state())?.decisions.map((d) => d.decision)).toEqual(['rollback']);
  }, 40_000);

  it('rolls back a canary 3x slower', async () => {
    const { base, canaryWeight } = await setup('ro-slow');
    // Without a baseline (baselineMs 0) only the p95/p99 comparison judges latency.
    const result = await rollout({ ...base, baselineMs: 0, signals: source(() => window('v2', 200, 0, 40)) });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/p95/);
    expect(await canaryWeight()).toBe(0);
  });

  it('rolls back a canary 4x slower on 12 requests: stable read before the first weight write shapes the test', async () => {
    const { base, canaryWeight, state } = await setup('ro-slow-early');
    const calls = { n: 0 };
    const lines: string[] = [];
    const slow = () => window('v2', 12, 0, 40);
    const result = await rollout({ ...base, signals: source(slow, calls), log: (l) => lines.push(l) });
    expect(result.outcome, result.reason).toBe('rolled-back');
    // Far below minLatencyCount (50): the sequential latency test, sized against stable.
    expect(result.reason).toMatch(
      /about \d+(\.\d+)?x slower than stable \(2x or more over 1.41x or less by /,
    );
    expect(await canaryWeight()).toBe(0);
    // One call for the baseline, one look of the first step.
    expect(calls.n).toBe(2);
    expect(lines.some((l) => /rollback: canary about/.test(l) && /latency LR/.test(l))).toBe(true);
    expect((await state())?.decisions.at(-1)?.decision).toBe('rollback');
    // The same figures without a baseline hold: 12 samples are too few for p95.
    const again = await setup('ro-slow-nobase');
    const held = await rollout({ ...again.base, baselineMs: 0, maxHolds: 1, signals: source(slow) });
    expect(held.outcome).toBe('paused');
    expect(await again.canaryWeight()).toBe(10);
  });

  it('pauses on a manual edit instead of overwriting it, and resumes when told', async () => {
    const { key, base, canaryWeight, state } = await setup('ro-edit');
    const calls = { n: 0 };
    const signals: SignalSource = {
      async subsetWindows() {
        calls.n++;
        // Call 1 reads stable's latency baseline, before the first weight write.
        if (calls.n === 2) {
          // An operator moves the canary by hand in the UI while the first step is judged.
          const doc = JSON.parse((await kv.get(key))!.value.toString());
          doc.routes[1].to = [
            { subset: 'v1', weight: 70 },
            { subset: 'v2', weight: 30 },
          ];
          await kv.put(key, doc);
        }
        return [window('v1', 18000, 20, 10), healthy()];
      },
    };
    const paused = await rollout({ ...base, signals });
    expect(paused.outcome).toBe('paused');
    expect(paused.reason).toMatch(/edited by someone else.*v2 at 30%, this controller wrote 10%/);
    expect(await canaryWeight()).toBe(30);
    expect((await state())?.status).toBe('paused');
    // Run again without --resume: refused, nothing written.
    const refused = await rollout({ ...base, signals });
    expect(refused.outcome).toBe('refused');
    expect(await canaryWeight()).toBe(30);
    const resumed = await rollout({ ...base, signals, resume: true });
    expect(resumed.outcome, resumed.reason).toBe('promoted');
    expect(await canaryWeight()).toBe(100);
  });

  it('one controller per service; a killed one is resumed by the next after its session expires', async () => {
    const { base, canaryWeight, state } = await setup('ro-kill');
    let ready = false;
    const signals = source(() => (ready ? healthy() : window('v2', 5, 0, 10)));
    const first = startRollout({ ...base, signals, maxHolds: 10_000 });
    await eventually(async () => (await state())?.decisions.length === 1, 10_000, 'a first hold');
    expect(await canaryWeight()).toBe(10);
    // A second controller while the first runs: refused at once.
    const second = await rollout({ ...base, signals });
    expect(second.outcome).toBe('locked');
    // Killed: no release, no session destroy; Consul frees the lock once the TTL (10 s) lapses.
    first.abandon();
    ready = true;
    const lines: string[] = [];
    const started = Date.now();
    const third = await rollout({ ...base, signals, waitForLockMs: 45_000, log: (l) => lines.push(l) });
    expect(third.outcome, third.reason).toBe('promoted');
    expect(lines.some((l) => /resumed at step 1 \(v2 at 10%\)/.test(l))).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(5_000);
    expect(await canaryWeight()).toBe(100);
    await first.done;
  }, 60_000);

  it('meshless rollout: exit 0 when promoted, 6 when rolled back, --status shows the state', async () => {
    const { canaryWeight, cli } = await setup('ro-cli');
    const ok = await cli(
      ['rollout', 'catalog', '--canary', 'v2', '--stable', 'v1', '--steps', '50,100', '--interval', '100ms'],
      source(healthy),
    );
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^promoted: /);
    expect(ok.err).toMatch(
      /rollout catalog: step 1\/2 at 50%: promote: canary within bounds \(canary 2000 req/,
    );
    expect(await canaryWeight()).toBe(100);
    const status = await cli(['rollout', 'catalog', '--status']);
    // The section `meshless status catalog` prints.
    expect(status.out).toMatch(/^rollout v2 vs v1: promoted at step 2\/2 \(plan 50,100%\), v2 at 100%/);
    expect(status.out).toMatch(/\nlast 1 decision:\n/);

    const bad = await cli(
      [
        'rollout',
        'catalog',
        '--canary',
        'v2',
        '--stable',
        'v1',
        '--steps',
        '50,100',
        '--interval',
        '100ms',
        '--restart',
      ],
      source(() => window('v2', 200, 10, 10)),
    );
    expect(bad.code).toBe(6);
    expect(bad.out).toMatch(/^rolled-back: canary errors 5%/);
    expect(await canaryWeight()).toBe(0);
    const usage = await cli(['rollout', 'catalog']);
    expect(usage.code).toBe(2);
    const badAlpha = await cli(['rollout', 'catalog', '--canary', 'v2', '--sequential-alpha', '2']);
    expect(badAlpha.code).toBe(2);
    expect(badAlpha.err).toMatch(/--sequential-alpha: expected a number/);
    const badLook = await cli(['rollout', 'catalog', '--canary', 'v2', '--judge-every', 'often']);
    expect(badLook.code).toBe(2);
    expect(badLook.err).toMatch(/--judge-every: expected a duration/);
    // The signal-source flags top, dashboard and signals take, checked the same way.
    const both = await cli([
      'rollout',
      'catalog',
      '--canary',
      'v2',
      '--as',
      'reader',
      '--prometheus',
      'http://127.0.0.1:9',
    ]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--as reads instances directly/);
    const badAs = await cli(['rollout', 'catalog', '--canary', 'v2', '--as', 'no/slash']);
    expect(badAs.code).toBe(2);
    expect(badAs.err).toMatch(/--as: /);
    const badUrl = await cli(['rollout', 'catalog', '--canary', 'v2', '--prometheus', 'not a url']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toMatch(/--prometheus: /);
  });
});
