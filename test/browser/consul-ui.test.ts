import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFleet, startGateway } from '../helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from '../helpers/consul.ts';
import { launchChromium, openKvEditor, replaceEditorText, saveKv } from './consul-ui.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };
const routesTo = (...to: { subset: string; weight: number }[]) => ({
  subsets,
  routes: [{ name: 'default', to }],
});
// What an operator types: pretty JSON, as the UI shows it.
const typed = (doc: object) => JSON.stringify(doc, null, 2);

describe('an operator edits a rule in the real Consul UI', () => {
  it('moves traffic to v2 on Save, and a bad document saved next is rejected with its field path while traffic stays', async () => {
    // First, so a machine without Chromium fails at once with the install hint.
    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const prefix = uniquePrefix('ui');
    const service = `catalog-${prefix.slice(-8)}`;
    const key = `${prefix}/services/${service}/routes`;
    const backends = await startFleet(service, prefix, [
      ['v1', 'v1-a'],
      ['v2', 'v2-a'],
    ]);
    cleanup.push(async () => {
      await Promise.all(backends.map((b) => b.stop()));
    });
    const gateway = await startGateway(prefix);
    cleanup.push(() => gateway.close());
    const { kv, connection } = kvClient();
    cleanup.push(() => connection.close());
    const client = gateway.client(service);
    const ruleStatus = () =>
      gateway.status().rules.keys.find((k) => k.key.endsWith(`/services/${service}/routes`));
    const versions = async (n: number) => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const res = await client.fetch(`/items/${i}`);
        expect(res.status).toBe(200);
        const { version } = (await res.json()) as { version: string };
        seen[version] = (seen[version] ?? 0) + 1;
      }
      return seen;
    };
    const modifyIndex = async () => (await kv.get(key))!.modifyIndex;

    await client.fetch('/warmup');
    await eventually(() => client.status().endpoints === 2, 5000, 'both endpoints');
    const initial = routesTo({ subset: 'stable', weight: 100 });
    await kv.put(key, initial);
    const initialIndex = await modifyIndex();
    await eventually(() => ruleStatus()?.appliedIndex === initialIndex, 5000, 'the initial rule');
    expect(await versions(50)).toEqual({ v1: 50 });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Fail fast inside the 60 s budget when the UI does not behave as expected.
    page.setDefaultTimeout(10_000);

    // The operator sees the rule in force, replaces it with "all to the canary", and saves.
    expect(JSON.parse(await openKvEditor(page, consulAddress(), key))).toEqual(initial);
    const toCanary = typed(routesTo({ subset: 'canary', weight: 100 }));
    await replaceEditorText(page, toCanary);
    const saved = await saveKv(page, join(tmpdir(), 'meshless-consul-ui-saved.png'));
    expect(saved).toEqual({ status: 200, body: toCanary, message: 'Success! Your key has been saved.' });
    expect((await kv.get(key))!.value!.toString('utf8')).toBe(toCanary);

    const canaryIndex = await modifyIndex();
    await eventually(() => ruleStatus()?.appliedIndex === canaryIndex, 3000, 'the rule saved in the UI');
    expect(ruleStatus()).toMatchObject({ state: 'applied', rejection: undefined });
    expect(await versions(50)).toEqual({ v2: 50 });

    // A typo in the UI: weights summing to 90. Consul stores it; the gateway must not apply it.
    expect(JSON.parse(await openKvEditor(page, consulAddress(), key))).toEqual(JSON.parse(toCanary));
    const broken = typed(routesTo({ subset: 'stable', weight: 60 }, { subset: 'canary', weight: 30 }));
    await replaceEditorText(page, broken);
    const savedBroken = await saveKv(page, join(tmpdir(), 'meshless-consul-ui-saved-invalid.png'));
    expect(savedBroken).toMatchObject({ status: 200, body: broken });

    const brokenIndex = await modifyIndex();
    await eventually(() => ruleStatus()?.rejection?.index === brokenIndex, 3000, 'the rejection');
    expect(ruleStatus()).toMatchObject({
      state: 'rejected',
      appliedIndex: canaryIndex,
      rejection: { path: 'routes[0].to', message: expect.stringMatching(/weights sum to 90, expected 100/) },
    });
    expect(gateway.status().rules.rejectedTotal).toBe(1);
    expect(await versions(50)).toEqual({ v2: 50 });
  }, 60_000);
});
