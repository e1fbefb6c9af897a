// Chapter 2: registration, discovery and load balancing. Three catalog instances register in
// Consul; the gateway spreads traffic over them; one is killed (no deregistration, as in a crash)
// and the balancer routes around it while retries cover the calls in flight.
import { color, type DemoConsul, log } from './lib.ts';
import { bars, type Shop, summary } from './shop.ts';

export async function discovery(shop: Shop, consul: DemoConsul, prefix: string): Promise<void> {
  log(color.bold('\n2. Registration, discovery and load balancing'));
  await consul.kv.put(`${prefix}/services/catalog/policies`, {
    retry: { attempts: 3, backoff: { baseMs: 5, maxMs: 50 } },
  });
  await consul.kv.put(`${prefix}/services/catalog/balancer`, {
    algorithm: 'p2c-peak-ewma',
    outlier: { consecutiveErrors: 2, maxEjectionPercent: 50 },
  });
  await Promise.all([shop.start('v1-a', 'v1'), shop.start('v1-b', 'v1'), shop.start('v2-a', 'v2')]);
  const catalog = await consul.connection.json<{ ServiceID: string; ServiceMeta: Record<string, string> }[]>({
    path: '/v1/catalog/service/catalog',
  });
  log(
    `   registered in Consul: ${catalog.map((s) => `${s.ServiceID} (${s.ServiceMeta.version})`).join(', ')}`,
  );
  log(color.dim(`   see them at ${consul.uiUrl}/dc1/services/catalog`));
  const client = shop.gateway.client('catalog');
  await client.fetch('/items/1').then((r) => r.arrayBuffer());
  for (let i = 0; i < 50 && client.status().endpoints < 3; i++) await new Promise((r) => setTimeout(r, 20));

  const before = await shop.traffic(300);
  log('   300 requests, p2c-peak-ewma over all three:');
  for (const line of bars(before.byInstance, 300)) log(`     ${line}`);
  log(`     ${summary(before)}`);

  log(`   ${color.red('kill -9')} catalog-v1-b (still registered: Consul only notices at its TTL)`);
  const during = shop.traffic(600);
  await new Promise((r) => setTimeout(r, 30));
  shop.kill('v1-b');
  const after = await during;
  log('   600 requests while it dies:');
  for (const line of bars(after.byInstance, 600)) log(`     ${line}`);
  log(
    `     ${summary(after)}  ${color.dim(`ejected by outlier detection: ${client.status().ejected.join(', ') || 'none'}`)}`,
  );
  await shop.start('v1-b', 'v1');
  log(color.dim('   catalog-v1-b restarted and registered again'));
  for (let i = 0; i < 100 && client.status().endpoints < 3; i++) await new Promise((r) => setTimeout(r, 20));
}
