// Chapter 7: datacenter failover. A second datacenter (dc2, another Consul dev agent, WAN-joined)
// runs one catalog instance. A gateway with `datacenters: ['dc1', 'dc2']` calls dc1 while it has
// instances, crosses to dc2 when the last dc1 instance leaves, and comes home when one returns.
import { join } from 'node:path';
import type { ConsulConnection } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Mesh } from 'meshless';
import { color, type DemoConsul, log, startProcess } from './lib.ts';
import { bars, type Shop } from './shop.ts';

export async function failover(shop: Shop, consul: DemoConsul, prefix: string, root: string): Promise<void> {
  log(color.bold('\n7. Datacenter failover: dc1 first, dc2 when dc1 has no instance left'));
  if (!consul.agent) {
    log(
      color.dim(
        '   skipped: it starts a second Consul datacenter next to the demo’s own dev agent, not yours',
      ),
    );
    return;
  }
  const dc2 = await ConsulDevAgent.start({
    args: ['-datacenter=dc2', `-join-wan=127.0.0.1:${consul.agent.ports.serfWan}`],
    node: 'meshless-demo-dc2',
  });
  const remote = startProcess('catalog-dc2-a', join(root, 'examples/shop/catalog.ts'), {
    CONSUL_HTTP_ADDR: dc2.address,
    DEMO_PREFIX: prefix,
    CATALOG_VERSION: 'v1',
    CATALOG_INSTANCE: 'dc2-a',
  });
  let gateway: Mesh | undefined;
  try {
    await waitFor(() => datacenters(consul.connection).then((dcs) => dcs.includes('dc2')), 'dc1 sees dc2');
    await remote.next((m) => m.event === 'ready');
    log(`   started dc2 (${dc2.url}), WAN-joined, with catalog-dc2-a registered there`);
    gateway = await createMesh({
      consul: { address: consul.address },
      prefix,
      cacheDir: false,
      logger: 'silent',
      datacenters: ['dc1', 'dc2'],
    });
    const client = gateway.client('catalog');
    log(`   a gateway with ${color.cyan("datacenters: ['dc1', 'dc2']")}:`);
    await show(client, 'all dc1 instances up');

    const local = [...shop.instances.keys()];
    const versions = new Map(local.map((i) => [i, i.startsWith('v2') ? 'v2' : 'v1']));
    await Promise.all(local.map((i) => shop.instances.get(i)!.stop()));
    for (const i of local) shop.instances.delete(i);
    await waitFor(async () => client.status().datacenter === 'dc2', 'failover to dc2');
    await show(client, `every dc1 instance stopped (${local.join(', ')})`);

    await shop.start(local[0]!, versions.get(local[0]!)!);
    await waitFor(async () => client.status().datacenter === 'dc1', 'back to dc1');
    await show(client, `catalog-${local[0]} back in dc1`);
    for (const i of local.slice(1)) await shop.start(i, versions.get(i)!);
  } finally {
    await gateway?.close();
    await remote.stop();
    await dc2.stop();
  }
}

async function show(client: ReturnType<Mesh['client']>, what: string): Promise<void> {
  const counts = new Map<string, number>();
  let failed = 0;
  for (let i = 0; i < 60; i++) {
    try {
      const res = await client.fetch(`/items/${(i % 3) + 1}`);
      const body = (await res.json()) as { instance?: string };
      const key = body.instance ?? `HTTP ${res.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      failed++;
    }
  }
  const dc = client.status().datacenter ?? 'dc1';
  log(`   ${what}: 60 calls served from ${color.bold(dc)}${failed ? color.red(`, ${failed} failed`) : ''}`);
  for (const line of bars(counts, 60)) log(`     ${line}`);
  if (failed > 0) throw new Error(`demo: ${failed} calls failed with ${what}`);
}

async function datacenters(connection: ConsulConnection): Promise<string[]> {
  return connection.json<string[]>({ path: '/v1/catalog/datacenters' });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`demo: no ${what} within ${ms} ms`);
}
