// Chapter 5: where to look. Prometheus metrics served by the gateway, a trace printed by the
// console exporter, a bad rule shown beside its key in Consul KV and in the "meshless governance"
// check of the instances it affects (which stay passing), and `meshless status catalog` comparing
// what each instance runs with what KV holds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { run as meshlessCli } from '@meshless/cli';
import { startTracing } from 'meshless';
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

  // A typo where operators edit: shown beside the key, reported by the instances it affects, and
  // nobody's health changes (one typo must not take a fleet out of ?passing).
  const key = `${prefix}/services/catalog/inbound`;
  const statusKey = `${prefix}/_status/services/catalog/inbound`;
  log(`   an operator saves a typo, ${color.red('"brust"')}, in ${key}`);
  await consul.kv.put(key, { rateLimit: { perSecond: 1000, brust: 2000 } });
  const saved = Date.now();
  let entry = '';
  for (let i = 0; i < 200 && !entry; i++) {
    entry = (await consul.kv.get(statusKey))?.value?.toString('utf8') ?? '';
    if (!entry) await new Promise((r) => setTimeout(r, 10));
  }
  if (!entry) throw new Error(`no status entry appeared at ${statusKey}`);
  log(`   ${Date.now() - saved} ms later, beside the key (${color.cyan(statusKey)}):`);
  for (const line of entry.split('\n').slice(0, 2)) log(color.dim(`     ${line}`));
  const checks = async () => {
    const list = await consul.connection.json<
      { CheckID: string; ServiceID: string; Status: string; Output: string }[]
    >({
      path: '/v1/health/checks/catalog',
    });
    return list.filter((c) => c.CheckID.startsWith('meshless-governance:'));
  };
  for (let i = 0; i < 200 && !(await checks()).every((c) => c.Output.includes('REJECTED')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const c of await checks()) {
    const line = c.Output.split('\n').find((l) => l.startsWith('REJECTED')) ?? c.Output.split('\n')[0];
    log(
      `     ${c.ServiceID.padEnd(16)} "meshless governance" ${c.Status === 'passing' ? color.green('passing') : color.yellow(c.Status)}  ${color.dim(line ?? '')}`,
    );
    if (c.Status !== 'passing') throw new Error(`${c.ServiceID}: a rejected rule changed its health`);
  }
  const passing = await consul.connection.json<unknown[]>({
    path: '/v1/health/service/catalog',
    query: { passing: true },
  });
  log(
    `   every catalog instance stays in ${color.cyan('?passing')} (${passing.length} of ${(await checks()).length}): they run their last good rules`,
  );
  log(
    color.dim(
      `     (in the UI: ${consul.uiUrl}/dc1/kv/${prefix}/_status/ and ${consul.uiUrl}/dc1/services/catalog)`,
    ),
  );

  log(
    `   ${color.cyan(`npx --no-install meshless status catalog --prefix ${prefix} --consul ${consul.address}`)}:`,
  );
  let out = '';
  await meshlessCli(['status', 'catalog', '--prefix', prefix, '--consul', consul.address], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    env: {},
  });
  for (const line of out.trimEnd().split('\n')) log(`     ${line}`);

  await consul.kv.put(key, { rateLimit: { perSecond: 1000, burst: 2000 } });
  for (let i = 0; i < 200 && (await consul.kv.get(statusKey)); i++)
    await new Promise((r) => setTimeout(r, 10));
  log(`   fixed: the entry beside the key is gone, and the instances apply the rule`);
  await consul.kv.delete(key);

  return async () => {
    await new Promise<void>((r) => metricsServer.close(() => r()));
  };
}
