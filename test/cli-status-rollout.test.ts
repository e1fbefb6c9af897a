import { rollout, stateKey } from '@meshless/cli';
import type { SignalSource } from 'meshless/contract';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleState } from '../packages/cli/src/rollout/state-fixture.ts';
import { kvClient } from './helpers/consul.ts';
import { healthyCanary, rolloutSetup, stableWindow, subsetWindow } from './helpers/rollout.ts';

// `meshless status <service>` shows the rollout's decisions: rollouts run by the controller on a
// real Consul (judged from a fake SignalSource, as in test/rollout.test.ts), read back by the CLI.
const { kv, connection } = kvClient();
afterAll(() => connection.close());

const routes = {
  subsets: { v1: { meta: { version: 'v1' } }, v2: { meta: { version: 'v2' } } },
  routes: [{ name: 'default', to: [{ subset: 'v1', weight: 100 }] }],
};

const window = subsetWindow;
const stable = stableWindow;
const healthy = healthyCanary;
const setup = (name: string) => rolloutSetup(kv, connection, name, routes);

const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ';

describe('meshless status <service>: the rollout', () => {
  it('a rolled-back canary: the decision, its reason and figures, in the text and in --json', async () => {
    const { base, cli } = await setup('st-ro-bad');
    const result = await rollout({
      ...base,
      signals: { subsetWindows: async () => [stable(), window('v2', 200, 10, 10)] },
    });
    expect(result.outcome).toBe('rolled-back');

    const text = await cli(['status', 'catalog']);
    expect(text.code, text.err).toBe(0);
    const lines = text.out.split('\n');
    const at = lines.findIndex((l) => l.startsWith('rollout v2 vs v1: '));
    expect(at, text.out).toBeGreaterThan(0);
    expect(lines[at]).toMatch(
      /^rollout v2 vs v1: rolled-back at step 1\/3 \(plan 10,50,100%\), v2 at 0%; canary errors 5% vs stable 0\.11%/,
    );
    expect(lines[at + 1]).toMatch(new RegExp(`^started ${TIME}, updated ${TIME}, controller [0-9a-f-]{36}$`));
    expect(lines[at + 2]).toBe('last 1 decision:');
    expect(lines[at + 3]).toMatch(/^TIME +STEP +WEIGHT +DECISION +CANARY +STABLE +REASON$/);
    expect(lines[at + 4]).toMatch(
      new RegExp(
        `^${TIME} +1/3 +10% +rollback +200 req 5% err p95 [\\d.]+ms p99 [\\d.]+ms +18000 req 0\\.11% err p95 [\\d.]+ms p99 [\\d.]+ms +canary errors 5% vs stable 0\\.11%`,
      ),
    );
    expect(text.out).not.toMatch(/PAUSED/);

    const json = await cli(['status', 'catalog', '--json']);
    expect(json.code).toBe(0);
    const status = JSON.parse(json.out);
    expect(status.rollout.key).toBe(stateKey(base.prefix, 'catalog'));
    expect(status.rollout.state).toMatchObject({
      status: 'rolled-back',
      canary: 'v2',
      stable: 'v1',
      weight: 0,
    });
    expect(status.rollout.state.decisions.at(-1)).toMatchObject({
      decision: 'rollback',
      weight: 10,
      canary: { requests: 200, errors: 10 },
    });
    expect(status.rollout.state.decisions.at(-1).reason).toMatch(/^canary errors 5% vs stable 0\.11%/);
    expect(status.rollout.resume).toBeUndefined();
  });

  it('a paused rollout says PAUSED with the reason and a command that resumes it', async () => {
    const { key, base, cli } = await setup('st-ro-pause');
    let edited = false;
    const signals: SignalSource = {
      async subsetWindows() {
        const doc = JSON.parse((await kv.get(key))!.value.toString());
        if (!edited && doc.routes[0].to.some((d: { weight?: number }) => d.weight === 10)) {
          // An operator moves the canary by hand while the first step (10 %) is judged.
          edited = true;
          doc.routes[0].to = [
            { subset: 'v1', weight: 70 },
            { subset: 'v2', weight: 30 },
          ];
          await kv.put(key, doc);
        }
        return [stable(), healthy()];
      },
    };
    const paused = await rollout({ ...base, signals });
    expect(paused.outcome).toBe('paused');

    const text = await cli(['status', 'catalog']);
    expect(text.code, text.err).toBe(0); // shown, not failed on: status reports, the operator acts
    const lines = text.out.split('\n');
    const at = lines.findIndex((l) => l.startsWith('rollout v2 vs v1: '));
    // Paused at the step whose weight it could not write (the look at 10 % may have promoted first).
    expect(lines[at]).toMatch(
      /^rollout v2 vs v1: paused at step [12]\/3 \(plan 10,50,100%\), v2 at 10% as last written$/,
    );
    const resume = `meshless rollout catalog --canary v2 --stable v1 --resume --prefix ${base.prefix}`;
    expect(lines[at + 2]).toMatch(
      /^PAUSED: \S+\/services\/catalog\/routes edited by someone else .*: v2 at 30%, this controller wrote 10%/,
    );
    expect(lines[at + 2]!.endsWith(` — run \`${resume}\``)).toBe(true);
    expect(lines.slice(at + 4).join('\n')).toMatch(
      new RegExp(`${TIME} +[12]/3 +10% +pause +- +- +\\S+ edited by someone else `),
    );

    const json = JSON.parse((await cli(['status', 'catalog', '--json'])).out);
    expect(json.rollout.state.status).toBe('paused');
    expect(json.rollout.state.reason).toMatch(/edited by someone else/);
    expect(json.rollout.state.decisions.at(-1).decision).toBe('pause');
    expect(json.rollout.resume).toBe(resume);

    // The printed command is one the rollout accepts: it resumes and promotes (a faster interval added).
    const words = resume.split(' ').slice(1);
    const resumed = await cli([...words.slice(0, -2), '--interval', '100ms'], {
      subsetWindows: async () => [stable(), healthy()],
    });
    expect(resumed.code, resumed.err).toBe(0);
    const after = (await cli(['status', 'catalog'])).out;
    expect(after).toMatch(/^rollout v2 vs v1: promoted at step 3\/3 \(plan 10,50,100%\), v2 at 100%/m);
    expect(after).not.toMatch(/PAUSED/);
  });

  it('a crafted state is one line saying why; no state, no section; the exit code stays 0', async () => {
    const { prefix, cli } = await setup('st-ro-junk');
    const none = await cli(['status', 'catalog']);
    expect(none.code).toBe(0);
    expect(none.out).not.toMatch(/rollout/);
    expect('rollout' in JSON.parse((await cli(['status', 'catalog', '--json'])).out)).toBe(false);

    await kv.put(stateKey(prefix, 'catalog'), sampleState({ decisions: [{ at: 'yesterday' }] }));
    const junk = await cli(['status', 'catalog']);
    expect(junk.code, junk.err).toBe(0);
    expect(junk.out.split('\n').filter((l) => /rollout/.test(l))).toEqual([
      `rollout state unreadable: decisions[0].at: expected epoch ms (${prefix}/_rollout/catalog)`,
    ]);
    const json = JSON.parse((await cli(['status', 'catalog', '--json'])).out);
    expect(json.rollout).toEqual({
      key: `${prefix}/_rollout/catalog`,
      error: 'decisions[0].at: expected epoch ms',
    });
  });
});
