// Chapter 5: where to look. Prometheus metrics served by the gateway, a trace printed by the
// console exporter, the "meshless governance" check turning to warning in Consul for a bad rule,
// and `meshless status catalog` comparing what each instance runs with what KV holds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { run as meshlessCli } from '@meshless/cli';
import { startTracing } from 'meshless';
import { applied } from './03-canary.ts';
import { color, type DemoConsul, log } from './lib.ts';
import type { Shop } from './shop.ts';

export async function observability(
  shop: Shop,
  consul: DemoConsul,
  prefix: string,
  keepServing: boolean,
): Promise<() => Promise<void>> {
  log(color.bold('\n5. Observability and the control loop'));

  // Metrics: the gateway serves /metrics.
  const metricsServer = createServer(shop.gateway.metricsHandler());
  await new Promise<void>((r) => metricsServer.listen(keepServing ? 9464 : 0, '127.0.0.1', r));
  const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
  await shop.traffic(200);
  const text = await (await fetch(metricsUrl)).text();
  log(`   Prometheus metrics of the gateway: ${color.cyan(metricsUrl)}`);
  for (const line of text.split('\n')) {
    if (
      /^meshless_client_requests_total\{.*catalog/.test(line) ||
      /^meshless_rule_applied_index\{.*catalog/.test(line)
    ) {
      log(color.dim(`     ${line}`));
    }
  }

  // Tracing: one request, printed by the OpenTelemetry console exporter.
  log(
    `   one traced call (OpenTelemetry console exporter; ${color.cyan('startTracing({ exporter: "otlp" })')} sends to a collector):`,
  );
  const tracing = await startTracing({
    serviceName: 'demo-gateway',
    exporter: 'console',
    detectResources: false,
  });
  const res = await shop.gateway.client('catalog').fetch('/items/2', { headers: { 'x-user-id': 'demo' } });
  await res.arrayBuffer();
  await tracing.shutdown();

  // The governance check and `meshless status`.
  const key = `${prefix}/services/catalog/routes`;
  const good = (await consul.kv.get(key))?.value?.toString('utf8');
  log(`   an operator saves a bad rule: ${color.red('weights sum to 90')} in ${key}`);
  await applied(shop, consul, key, {
    subsets: { stable: { meta: { version: 'v1' } } },
    routes: [{ name: 'default', to: [{ subset: 'stable', weight: 90 }] }],
  });
  const checks = async () => {
    const list = await consul.connection.json<
      { CheckID: string; ServiceID: string; Status: string; Output: string }[]
    >({
      path: '/v1/health/checks/catalog',
    });
    return list.filter((c) => c.CheckID.startsWith('meshless-governance:'));
  };
  for (let i = 0; i < 100 && !(await checks()).every((c) => c.Status === 'warning'); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of await checks()) {
    const first = c.Output.split('\n').find((l) => l.startsWith('REJECTED')) ?? c.Output.split('\n')[0];
    log(
      `     ${c.ServiceID.padEnd(16)} "meshless governance" ${c.Status === 'warning' ? color.yellow('warning') : c.Status}  ${color.dim(first ?? '')}`,
    );
  }
  log(color.dim(`     (in the UI: ${consul.uiUrl}/dc1/services/catalog)`));

  log(`   ${color.cyan('meshless status catalog')}:`);
  let out = '';
  await meshlessCli(['status', 'catalog', '--prefix', prefix, '--consul', consul.address], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    env: {},
  });
  for (const line of out.trimEnd().split('\n')) log(`     ${line}`);

  if (good) await applied(shop, consul, key, JSON.parse(good));
  log(`   the good rule is back: checks ${color.green('passing')} again`);

  return async () => {
    await new Promise<void>((r) => metricsServer.close(() => r()));
  };
}
