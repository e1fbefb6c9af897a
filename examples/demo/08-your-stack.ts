// Chapter 8: the team's own stack. storefront (examples/nest-storefront) is a real Nest app,
// compiled by tsc as Nest apps are and started as a process: MeshModule.forRootAsync, a @Governed
// method, MeshExceptionFilter, and catalog called with the plain global fetch through
// setGlobalDispatcher(mesh.dispatcher()). The gateway calls it; we watch a) the call governed end
// to end, b) a header route on catalog honoured two hops from the user with no forwarding code,
// c) fetch retried past a failing catalog instance, d) SIGTERM: readiness 503, deregistered, exit.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Mesh } from 'meshless';
import { applied } from './03-canary.ts';
import { color, type DemoConsul, type DemoProcess, freePort, log, startProcess } from './lib.ts';
import { bars, type Shop } from './shop.ts';

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };
const retry = { attempts: 3, backoff: { baseMs: 5, maxMs: 50 }, on: ['5xx', 'connect-error', 'reset'] };
const CALLS = 60;

interface Product {
  id: string;
  catalog: { instance?: string; version?: string; status: number };
}

export async function yourStack(shop: Shop, consul: DemoConsul, prefix: string, root: string): Promise<void> {
  log(color.bold('\n8. Your own stack: a Nest app, plain fetch, headers that travel, a clean shutdown'));
  const out = join(root, 'node_modules/.cache/meshless-demo/nest');
  const compiled = performance.now();
  await compile(root, join(root, 'examples/nest-storefront/tsconfig.json'), out);
  log(
    `   compiled ${color.cyan('examples/nest-storefront/app.ts')} with tsc ${color.dim(`(legacy decorators, type metadata; ${(performance.now() - compiled).toFixed(0)} ms)`)}`,
  );
  // catalog's rules, read by the gateway and by storefront alike: beta users to v2, others to v1;
  // retries on 5xx so one broken instance is covered.
  await applied(shop, consul, `${prefix}/services/catalog/routes`, {
    subsets,
    routes: [
      {
        name: 'beta-users',
        match: { headers: { 'x-user-group': { exact: 'beta' } } },
        to: [{ subset: 'canary', weight: 100 }],
      },
      { name: 'default', to: [{ subset: 'stable', weight: 100 }] },
    ],
  });
  await applied(shop, consul, `${prefix}/services/catalog/balancer`, { algorithm: 'round-robin' });
  await applied(shop, consul, `${prefix}/services/catalog/policies`, { timeoutMs: 500, retry });

  const port = await freePort();
  // No mesh code for these: meshless reads CONSUL_HTTP_ADDR and MESHLESS_* itself.
  const env = {
    CONSUL_HTTP_ADDR: consul.address,
    MESHLESS_PREFIX: prefix,
    MESHLESS_SERVICE_VERSION: 'v1',
    MESHLESS_PROPAGATE_HEADERS: 'x-user-group',
    PORT: String(port),
  };
  const app = startProcess('storefront', join(out, 'app.js'), env);
  try {
    const ready = await app.next((m) => m.event === 'ready', 20_000);
    log(`   started ${color.bold(String(ready.id))} (Nest, port ${port}) with ${color.dim(envLine(env))}`);
    const client = shop.gateway.client('storefront');
    await discovered(client);

    // a) gateway -> storefront (Nest, @Governed) -> catalog (global fetch, governed).
    const plain = await calls(client, {});
    log(`   a) ${CALLS} calls gateway -> storefront -> catalog, ${okLine(plain)}; catalog answered from:`);
    for (const line of bars(plain.byInstance, CALLS)) log(`        ${line}`);
    await governedTimeout(consul, prefix, client);

    // b) The gateway sets x-user-group on its call to storefront; storefront's code forwards
    //    nothing, yet catalog's beta route sees the header on the next hop.
    const beta = await calls(client, { 'x-user-group': 'beta' });
    log(
      `   b) ${CALLS} calls with ${color.cyan('x-user-group: beta')}, ${okLine(beta)}; storefront forwards nothing, catalog's route "beta-users" saw it:`,
    );
    for (const line of bars(beta.byVersion, CALLS)) log(`        ${line}`);
    if ((beta.byVersion.get('v2') ?? 0) !== CALLS) throw new Error('demo: the beta header did not travel');
    if ((plain.byVersion.get('v2') ?? 0) !== 0) throw new Error('demo: plain calls reached the canary');

    // c) One catalog instance breaks: storefront's plain fetch is retried past it.
    await retriedPast(shop, client, 'v1-a');

    // d) SIGTERM: Nest's shutdown hooks close the mesh before the process ends.
    await cleanShutdown(app, port, consul, String(ready.id));
  } finally {
    await shop.mode('v1-a', 'fail=0');
    await app.stop();
  }
}

async function compile(root: string, tsconfig: string, outDir: string): Promise<void> {
  const tsc = join(root, 'node_modules/.bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', tsconfig, '--outDir', outDir], { cwd: root }).catch(
    (e: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    },
  );
}

type Client = ReturnType<Mesh['client']>;

/** Until the gateway's client has found storefront in Consul (its check passing). */
async function discovered(client: Client): Promise<void> {
  const end = performance.now() + 10_000;
  while (performance.now() < end) {
    const res = await client.fetch('/products/1').catch(() => undefined);
    await res?.arrayBuffer();
    if (res?.ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('demo: the gateway never reached storefront');
}

interface Calls {
  ok: number;
  failed: string[];
  byInstance: Map<string, number>;
  byVersion: Map<string, number>;
}

async function calls(client: Client, headers: Record<string, string>): Promise<Calls> {
  const c: Calls = { ok: 0, failed: [], byInstance: new Map(), byVersion: new Map() };
  await Promise.all(
    Array.from({ length: 6 }, async (_, worker) => {
      for (let i = worker; i < CALLS; i += 6) {
        try {
          const res = await client.fetch(`/products/${(i % 3) + 1}`, { headers });
          const body = (await res.json()) as Product;
          if (!res.ok || body.catalog.status !== 200) {
            c.failed.push(`HTTP ${res.status}/${body.catalog?.status}`);
            continue;
          }
          c.ok++;
          bump(c.byInstance, body.catalog.instance ?? '?');
          bump(c.byVersion, body.catalog.version ?? '?');
        } catch (error) {
          c.failed.push((error as { code?: string }).code ?? (error as Error).name);
        }
      }
    }),
  );
  if (c.failed.length > 0) throw new Error(`demo: ${c.failed.length} calls failed (${c.failed[0]})`);
  return c;
}

/** A rule in KV shortens the @Governed method's timeout; MeshExceptionFilter answers 504. */
async function governedTimeout(consul: DemoConsul, prefix: string, client: Client): Promise<void> {
  const key = `${prefix}/resources/storefront.product`;
  await consul.kv.put(key, { timeoutMs: 50 });
  let answer: { status: number; body: string } | undefined;
  for (let i = 0; i < 100 && answer?.status !== 504; i++) {
    const res = await client.fetch('/products/1?delay=200');
    answer = { status: res.status, body: await res.text() };
  }
  await consul.kv.delete(key);
  if (answer?.status !== 504) throw new Error('demo: storefront never applied its timeout rule');
  log(
    `      PUT ${key} {"timeoutMs":50}: a 200 ms call answers ${color.yellow(`HTTP 504 ${answer.body}`)} ${color.dim('(@Governed + MeshExceptionFilter)')}`,
  );
  // Back to the code value (1000 ms) once storefront has seen the delete.
  for (let i = 0; i < 100; i++) {
    const res = await client.fetch('/products/1?delay=200');
    await res.arrayBuffer();
    if (res.ok) return;
  }
  throw new Error('demo: storefront kept the deleted timeout rule');
}

async function retriedPast(shop: Shop, client: Client, broken: string): Promise<void> {
  const hits = async () => {
    const p = shop.instances.get(broken);
    if (!p) throw new Error(`demo: no catalog-${broken}`);
    return ((await (await fetch(`http://127.0.0.1:${p.port}/_demo/mode`)).json()) as { hits: number }).hits;
  };
  await shop.mode(broken, 'fail=1');
  const before = await hits();
  const c = await calls(client, {});
  const failures = (await hits()) - before;
  log(
    `   c) catalog-${broken} answers 500s: ${CALLS} calls, ${okLine(c)}; storefront's plain ${color.cyan('fetch')} was retried past its ${failures} failures:`,
  );
  for (const line of bars(c.byInstance, CALLS)) log(`        ${line}`);
  if (failures === 0) throw new Error(`demo: no call reached catalog-${broken}`);
  await shop.mode(broken, 'fail=0');
}

/** SIGTERM: readiness 503 at once, liveness 200 while draining, deregistered, then the exit. */
async function cleanShutdown(app: DemoProcess, port: number, consul: DemoConsul, id: string): Promise<void> {
  const exited = new Promise<string>((resolve) =>
    app.child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const probe = (path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`)
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);
  const registered = async () =>
    id in (await consul.connection.json<Record<string, unknown>>({ path: '/v1/agent/services' }));
  const started = performance.now();
  const at = () => (performance.now() - started).toFixed(0).padStart(4);
  let notReady: string | undefined;
  let liveWhileDraining = false;
  let deregistered: string | undefined;
  app.child.kill('SIGTERM');
  log(
    `   d) ${color.cyan('kill -TERM')} storefront (Nest enableShutdownHooks -> MeshModule -> mesh.close()):`,
  );
  while (!done) {
    const [ready, live, listed] = await Promise.all([
      probe('/meshless/health/ready'),
      probe('/meshless/health/live'),
      registered(),
    ]);
    if (done) break;
    if (ready === 503 && !notReady) notReady = at();
    if (ready === 503 && live === 200) liveWhileDraining = true;
    if (!listed && !deregistered) deregistered = at();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20))]);
  }
  const signal = await exited;
  const exitAt = at();
  const stillListed = await registered();
  log(
    `      ${notReady ?? '   ?'} ms  readiness 503${liveWhileDraining ? ', liveness still 200 (draining)' : ''}`,
  );
  // Seen by a poll, or gone by the time the exit was noticed (the two can fall within one poll).
  log(`      ${deregistered ?? exitAt} ms  deregistered from Consul${deregistered ? '' : ' (by the exit)'}`);
  log(`      ${exitAt} ms  process exited (${signal})${stillListed ? color.red(', still registered') : ''}`);
  if (!notReady || stillListed) throw new Error('demo: storefront did not shut down cleanly');
}

function okLine(c: Calls): string {
  return `${c.ok} ok, ${color.green(`${c.failed.length} failed`)}`;
}

function envLine(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([k]) => k.startsWith('MESHLESS_'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
