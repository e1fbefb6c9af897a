import { rollout } from '@meshless/cli';
import type { SignalSource, SubsetWindow } from 'meshless/contract';
import { afterAll, describe, expect, it } from 'vitest';
import { kvClient, uniquePrefix } from './helpers/consul.ts';

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

const BOUNDS = [5, 10, 20, 40, 80, 160];
function window(subset: string, n: number, errors: number): SubsetWindow {
  return { subset, requests: n, errors, latency: { bounds: BOUNDS, counts: [0, n, 0, 0, 0, 0, 0] } };
}
const source = (canaryErrors: number): SignalSource => ({
  async subsetWindows() {
    return [window('v1', 18000, 20), window('v2', 2000, canaryErrors)];
  },
});

async function runOn(name: string, canaryErrors: number) {
  const prefix = uniquePrefix(name);
  const key = `${prefix}/services/catalog/routes`;
  await kv.put(key, routesYaml);
  const result = await rollout({
    connection,
    prefix,
    service: 'catalog',
    canary: 'v2',
    stable: 'v1',
    plan: [10, 50, 100],
    intervalMs: 100,
    lock: { lockDelayMs: 0 },
    signals: source(canaryErrors),
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
