import { rollout } from '@meshless/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { kvClient } from './helpers/consul.ts';
import { fixedSource, rolloutSetup, subsetWindow } from './helpers/rollout.ts';

// An operator's YAML routes document through the rollout controller on a real Consul: every
// weight write keeps it YAML, its comments and its layout.
const { kv, connection } = kvClient();
afterAll(() => connection.close());

const routesAt = (w: number) => `# catalog routes: owned by the payments team, moved by meshless rollout
subsets:
  v1: { meta: { version: v1 } } # the current release
  v2: { meta: { version: v2 } }

routes:
  # beta users always get the canary
  - name: beta
    match: { headers: { x-beta: { exact: '1' } } }
    to: [{ subset: v2 }]

  # everyone else
  - name: default
    to:
      - subset: v1 # stable
        weight: ${100 - w}
      - subset: v2
        weight: ${w}
`;
const routesYaml = routesAt(0);

async function runOn(name: string, canaryErrors: number) {
  const { prefix, key, base } = await rolloutSetup(kv, connection, name, routesYaml);
  const result = await rollout({
    ...base,
    signals: fixedSource(() => subsetWindow('v2', 2000, canaryErrors)),
  });
  const history = await kv.list(`${prefix}-history/services/catalog/routes/`);
  return { result, now: (await kv.get(key))!.value.toString(), history: history.map((e) => String(e.value)) };
}

describe('meshless rollout on a YAML routes document', () => {
  it('promotes step by step, each version the operator text with only the weights changed', async () => {
    const { result, now, history } = await runOn('ro-yaml', 0);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(now).toBe(routesAt(100));
    // The versions each write replaced: the original, then 10 % and 50 %, comments and all.
    expect(history.sort()).toEqual([routesAt(0), routesAt(10), routesAt(50)].sort());
  });

  it('a rollback puts back the document exactly as written', async () => {
    const { result, now } = await runOn('ro-yaml-bad', 100);
    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(now).toBe(routesYaml);
  });
});
