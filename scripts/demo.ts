// `npm run demo`: starts Consul if needed and shows meshless governing live traffic, chapter by
// chapter. `npm run demo -- --once` runs the same tour non-interactively and exits (CI smoke test).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { governanceCenter } from '../examples/demo/01-governance-center.ts';
import { discovery } from '../examples/demo/02-discovery.ts';
import { canary } from '../examples/demo/03-canary.ts';
import { resilience } from '../examples/demo/04-resilience.ts';
import { observability } from '../examples/demo/05-observability.ts';
import { deadlines } from '../examples/demo/06-deadlines.ts';
import { failover } from '../examples/demo/07-failover.ts';
import { yourStack } from '../examples/demo/08-your-stack.ts';
import { zeroTrust } from '../examples/demo/09-zero-trust.ts';
import { atScale } from '../examples/demo/10-at-scale.ts';
import { rollouts } from '../examples/demo/11-rollout.ts';
import { color, type DemoProcess, ensureConsul, log } from '../examples/demo/lib.ts';
import { type Shop, startShop } from '../examples/demo/shop.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'examples', 'demo');
const once = process.argv.includes('--once');
const prefix = process.env.CONSUL_HTTP_ADDR ? 'meshless-demo' : 'meshless';

log(color.bold('meshless demo') + color.dim(once ? '  (--once: the tour, then exit)' : '  (Ctrl-C to stop)'));
const consul = await ensureConsul(root);
const processes: DemoProcess[] = [];
let shop: Shop | undefined;
const cleanups: (() => Promise<void>)[] = [];
let exitCode = 0;
const shutdown = async () => {
  for (const c of cleanups) await c();
  await shop?.stop();
  await Promise.allSettled(processes.map((p) => p.stop()));
  await consul.stop();
};
process.on('SIGINT', () => {
  log('\nstopping...');
  void shutdown().then(() => process.exit(exitCode));
});

try {
  processes.push(...(await governanceCenter(consul, prefix, here)));
  shop = await startShop(consul, prefix, root);
  await discovery(shop, consul, prefix);
  await canary(shop, consul, prefix);
  await resilience(shop, consul, prefix);
  const stopMetrics = await observability(shop, consul, prefix, !once);
  cleanups.push(stopMetrics);
  await deadlines(shop, consul, prefix, root);
  await failover(shop, consul, prefix, root);
  await yourStack(shop, consul, prefix, root);
  await zeroTrust(shop, consul, prefix, once);
  await atScale(consul, prefix);
  await rollouts(shop, consul, prefix);

  log(color.bold('\nWhere to look'));
  log(`   Consul UI, key/value: ${color.cyan(`${consul.uiUrl}/dc1/kv/${prefix}/`)}`);
  log(`   Consul UI, intentions: ${color.cyan(`${consul.uiUrl}/dc1/intentions`)}`);
  log(
    `   Consul UI, services:  ${color.cyan(`${consul.uiUrl}/dc1/services`)}  (each catalog instance: "meshless governance")`,
  );
  if (!once) log(`   Prometheus metrics:   ${color.cyan('http://127.0.0.1:9464/metrics')}`);
  log(
    `   the CLI:              ${color.cyan(`npx --no-install meshless status catalog --prefix ${prefix} --consul ${consul.address}`)}`,
  );
  if (once) log(color.green('\ndemo tour complete'));
  else {
    log(`\n   Create or edit ${color.cyan(`${prefix}/services/catalog/policies`)} in the UI (JSON or YAML);`);
    log('   each instance prints what it applied or rejected. Ctrl-C to stop.\n');
    for (const p of processes) {
      p.onMessage((m) => {
        if (m.event === 'applied')
          log(
            `   ${p.name.padEnd(10)} ${color.green('applied')}  ${m.key} index ${m.index} ${JSON.stringify(m.value)}`,
          );
        if (m.event === 'rejected')
          log(`   ${p.name.padEnd(10)} ${color.red('rejected')} ${m.key}: ${m.message}`);
        if (m.event === 'deleted')
          log(`   ${p.name.padEnd(10)} ${color.yellow('deleted')}  ${m.key}: defaults apply`);
      });
    }
    await new Promise(() => {});
  }
} catch (error) {
  exitCode = 1;
  log(color.red(`demo failed: ${(error as Error).stack ?? error}`));
} finally {
  if (once || exitCode) {
    await shutdown();
    process.exit(exitCode);
  }
}
