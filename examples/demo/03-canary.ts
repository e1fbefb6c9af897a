// Chapter 3: canary release by rules in KV: 0 -> 10 -> 50 -> 100 % to v2, and a header route that
// sends beta users to v2 whatever the split.
import { color, type DemoConsul, log } from './lib.ts';
import { bars, type Shop, summary } from './shop.ts';

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

export async function canary(shop: Shop, consul: DemoConsul, prefix: string): Promise<void> {
  log(color.bold('\n3. Canary release: shifting traffic to v2 by writing rules'));
  const key = `${prefix}/services/catalog/routes`;
  for (const share of [0, 10, 50, 100]) {
    const doc = {
      subsets,
      routes: [
        {
          name: 'beta-users',
          match: { headers: { 'x-user-group': { exact: 'beta' } } },
          to: [{ subset: 'canary', weight: 100 }],
        },
        {
          name: 'default',
          to: [
            { subset: 'stable', weight: 100 - share },
            { subset: 'canary', weight: share },
          ],
        },
      ],
    };
    await applied(shop, consul, key, doc);
    const t = await shop.traffic(400);
    log(`   PUT ${key}  ${color.dim(`stable ${100 - share} / canary ${share}`)}`);
    for (const line of bars(t.byVersion, 400)) log(`     ${line}`);
    log(`     ${summary(t)}`);
    if (share === 10) {
      const beta = await shop.traffic(100, { 'x-user-group': 'beta' });
      log(`   100 requests with ${color.cyan('x-user-group: beta')} (route "beta-users"):`);
      for (const line of bars(beta.byVersion, 100)) log(`     ${line}`);
    }
  }
  log(color.dim(`   edit the rule yourself: ${consul.uiUrl}/dc1/kv/${key}/edit`));
}

/** Writes a rule and waits until the gateway has applied that version. */
export async function applied(shop: Shop, consul: DemoConsul, key: string, doc: unknown): Promise<void> {
  await consul.kv.put(key, doc as object);
  const { modifyIndex } = (await consul.kv.get(key))!;
  for (let i = 0; i < 500; i++) {
    const status = shop.gateway.status().rules.keys.find((k) => k.key === key);
    if (status && (status.appliedIndex === modifyIndex || status.rejection?.index === modifyIndex)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gateway did not apply ${key}@${modifyIndex}`);
}
