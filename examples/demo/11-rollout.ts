// Chapter 11: self-driving releases. The rollout controller (`rollout()` from @meshless/cli, the
// library behind `meshless rollout`) steps the canary's weight and judges it against stable from
// the fleet's own signals (FleetSignals: each instance's GET /meshless/signals, found through the
// catalog). A healthy v2 goes 10 -> 50 -> 100 % and is promoted; then a v3 whose new instance
// answers 500 (half of v3's calls fail) is rolled back to 0 % by itself while the chapter prints
// live frames and a `meshless top --once` frame taken beside it; last, a v4 answering 150 ms late
// is rolled back on latency after a couple of dozen of its requests. The caller is a registered
// `storefront` (the shop's gateway is not in the catalog, so no reader could find its figures).
// Routes, policies and balancer are put back as they were.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  FleetSignals,
  run as meshlessCli,
  parseState,
  type RolloutResult,
  startRollout,
} from '@meshless/cli';
import { createMesh, type Mesh } from 'meshless';
import { color, type DemoConsul, log } from './lib.ts';
import type { Shop } from './shop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CALLER = 'storefront';
const subsets = {
  v1: { meta: { version: 'v1' } },
  v2: { meta: { version: 'v2' } },
  v3: { meta: { version: 'v3' } },
  v4: { meta: { version: 'v4' } },
};
// Margin 5 points (default 1, which needs ~400 canary requests a step: right for production, long
// for a demo); a latency floor of 50 ms so a busy CI machine's stalls never look like a slow canary.
const judge = { errorMarginPercent: 5, latencyFloorMs: 50 };

export async function rollouts(shop: Shop, consul: DemoConsul, prefix: string): Promise<void> {
  log(color.bold('\n11. Self-driving releases: a canary promoted, and a bad one rolled back by itself'));
  const keys = ['routes', 'policies', 'balancer'].map((k) => `${prefix}/services/catalog/${k}`);
  const saved = await Promise.all(keys.map((k) => consul.kv.get(k)));
  const storefront = await startStorefront(consul, prefix);
  const reader = new FleetSignals({ consul: consul.connection });
  const frames = new FleetSignals({ consul: consul.connection });
  const traffic = pacedTraffic(storefront);
  try {
    const routes = keys[0]!;
    await put(consul, [storefront, shop.gateway], keys[1]!, { timeoutMs: 1000, retry: { attempts: 1 } });
    await put(consul, [storefront, shop.gateway], keys[2]!, { algorithm: 'round-robin' });
    await put(consul, [storefront, shop.gateway], routes, doc('v1', 'v2', 0));
    log(
      `   ${CALLER} (registered, serves its signals) calls catalog without retries, ~${color.cyan('200 req/s')}; routes: v1 100 %`,
    );
    log(
      color.dim(
        `   judge (every 1 s): sequential tests of the errors' split and of every request's latency (alpha 0.001 each), promotion once within ${judge.errorMarginPercent} points of stable, p95/p99 at most 2x`,
      ),
    );
    await release(consul, prefix, reader, frames, traffic, 'v1', 'v2');

    log(
      `\n   next release: v3 (catalog-v3-a, and catalog-v3-b ${color.red('answering HTTP 500')}); routes: v2 100 %`,
    );
    await Promise.all([shop.start('v3-a', 'v3'), shop.start('v3-b', 'v3')]);
    await shop.mode('v3-b', 'fail=1');
    await put(consul, [storefront, shop.gateway], routes, doc('v2', 'v3', 0));
    const failedBefore = traffic.failed;
    // `meshless top --once` over the 2 s the canary is exposed, printed once it is decided.
    let top: string[] = [];
    const bad = await release(consul, prefix, reader, frames, traffic, 'v2', 'v3', async () => {
      top = await cli(consul, prefix, ['top', 'catalog', CALLER, '--once', '--window', '2s']);
    });
    if (bad.outcome !== 'rolled-back') throw new Error(`the bad canary was not rolled back: ${bad.reason}`);
    const decided = performance.now();
    await applied([storefront], routes, (await consul.kv.get(routes))!.modifyIndex);
    const appliedMs = performance.now() - decided;
    const blast = traffic.failed - failedBefore;
    log(`   ${color.cyan(`meshless top catalog ${CALLER} --once --window 2s`)}, run beside the rollout:`);
    for (const line of top) log(`     ${line}`);
    await sleep(1000);
    const after = traffic.failed - failedBefore - blast;
    log(
      `     the caller applied the rollback ${appliedMs.toFixed(0)} ms after the decision; ` +
        `${color.red(`${blast} user requests failed`)} before it (the blast radius), ${after} in the second after`,
    );
    await whereVisible(consul, prefix);

    // A slow release: every request shows it, so the latency test needs a handful of them.
    log(`\n   next release: v4 (catalog-v4-a ${color.red('answering 150 ms late')}); routes: v2 100 %`);
    await shop.start('v4-a', 'v4');
    await shop.mode('v4-a', 'slow=150');
    await put(consul, [storefront, shop.gateway], routes, doc('v2', 'v4', 0));
    const okBefore = traffic.ok;
    const slow = await release(consul, prefix, reader, frames, traffic, 'v2', 'v4');
    if (slow.outcome !== 'rolled-back')
      throw new Error(`the slow canary was not rolled back: ${slow.reason}`);
    const last = parseState((await consul.kv.get(`${prefix}/_rollout/catalog`))?.value)?.decisions.at(-1);
    log(
      `     rolled back on latency with ${color.cyan(`${last?.canary?.requests ?? '?'} canary requests`)} in the window ` +
        `(${traffic.ok - okBefore} calls in all during this release)`,
    );
  } finally {
    await traffic.stop();
    await Promise.all([reader.close(), frames.close()]);
    for (const i of ['v3-a', 'v3-b', 'v4-a']) {
      await shop.instances.get(i)?.stop();
      shop.instances.delete(i);
    }
    await storefront.close();
    await restore(consul, shop, keys, saved);
  }
  log(
    color.dim('   catalog v3 and v4 stopped; routes, policies and balancer as they were before this chapter'),
  );
}

function doc(stable: string, canary: string, weight: number) {
  return {
    subsets,
    routes: [
      {
        name: 'default',
        to: [
          { subset: stable, weight: 100 - weight },
          { subset: canary, weight },
        ],
      },
    ],
  };
}

/** One rollout with live frames; prints its decision line. */
async function release(
  consul: DemoConsul,
  prefix: string,
  reader: FleetSignals,
  frames: FleetSignals,
  traffic: PacedTraffic,
  stable: string,
  canary: string,
  alongside?: () => Promise<void>,
): Promise<RolloutResult> {
  log(
    `   ${color.cyan(`rollout({ service: 'catalog', stable: '${stable}', canary: '${canary}', plan: [10, 50, 100], intervalMs: 1000, caller: '${CALLER}' })`)}`,
  );
  const decisions: string[] = [];
  const started = performance.now();
  const run = startRollout({
    connection: consul.connection,
    prefix,
    service: 'catalog',
    stable,
    canary,
    plan: [10, 50, 100],
    intervalMs: 1000,
    maxHolds: 20,
    caller: CALLER,
    signals: reader,
    judge,
    lock: { lockDelayMs: 0 },
    log: (line) => {
      if (/: (rollback|rolled back|promoted|paused)/.test(line)) decisions.push(line);
    },
  });
  let done: RolloutResult | undefined;
  void run.done.then((r) => (done = r));
  const beside = alongside?.();
  // Frames while it runs: the weight from the controller's KV state, the figures from the fleet.
  while (!done && performance.now() - started < 25_000) {
    await sleep(1000);
    await frame(consul, prefix, frames, stable, canary, started).catch((e) =>
      log(color.dim(`     (frame: ${(e as Error).message})`)),
    );
  }
  const result = done ?? (await run.stop());
  await beside;
  const decidedS = ((performance.now() - started) / 1000).toFixed(1);
  const judged = decisions.find((l) => /: rollback: /.test(l));
  if (judged) log(`     ${color.red('decision')} ${judged.replace(/^rollout catalog: /, '')}`);
  const paint = result.outcome === 'promoted' ? color.green : color.red;
  log(
    `   ${paint(`${result.outcome}`)} after ${decidedS} s: ${result.reason}  ${color.dim(`(calls so far: ${traffic.ok} ok, ${traffic.failed} failed)`)}`,
  );
  if (result.outcome !== 'promoted' && result.outcome !== 'rolled-back')
    throw new Error(`rollout ${stable} -> ${canary} ended ${result.outcome}: ${result.reason}`);
  return result;
}

async function frame(
  consul: DemoConsul,
  prefix: string,
  frames: FleetSignals,
  stable: string,
  canary: string,
  started: number,
): Promise<void> {
  const [state, report] = await Promise.all([
    consul.kv.get(`${prefix}/_rollout/catalog`).then((e) => parseState(e?.value)),
    frames.read(1500, ['catalog', CALLER]),
  ]);
  const edge = (subset: string) =>
    report.edges.find((e) => e.caller === CALLER && e.service === 'catalog' && e.subset === subset);
  const fig = (subset: string) => {
    const e = edge(subset);
    if (!e || e.requests === 0) return `${subset} ${color.dim('no calls')}`.padEnd(40);
    const err = `${(100 * (1 - e.successRate)).toFixed(1)}% err`;
    return `${subset} ${e.rps.toFixed(0).padStart(3)} req/s ${e.errors ? color.red(err.padStart(9)) : err.padStart(9)} p99 ${e.p99.toFixed(1).padStart(5)} ms`;
  };
  const weight = state ? `${canary} at ${String(state.weight).padStart(3)}%` : '';
  const t = `+${((performance.now() - started) / 1000).toFixed(1)}s`.padStart(6);
  log(`     ${color.dim(t)} ${weight.padEnd(12)} ${fig(stable)} | ${fig(canary)}`);
}

/** The decision where operators look: the state key, the routes' history, the CLI. */
async function whereVisible(consul: DemoConsul, prefix: string): Promise<void> {
  const key = `${prefix}/_rollout/catalog`;
  const state = parseState((await consul.kv.get(key))?.value);
  const last = state?.decisions.filter((d) => d.decision === 'rollback').at(-1);
  log(`   KV ${color.cyan(key)}: status ${state?.status}, ${state?.decisions.length} decision(s) kept`);
  if (last?.canary && last.stable)
    log(
      color.dim(
        `     last: ${last.decision} at ${last.weight}%: canary ${last.canary.requests} req ${last.canary.errors} err, stable ${last.stable.requests} req ${last.stable.errors} err, Fisher p=${last.errorPValue?.toExponential(1)}`,
      ),
    );
  for (const args of [['history', 'catalog', 'routes']]) {
    const shown = await cli(consul, prefix, args);
    log(`   ${color.cyan(`meshless ${args.join(' ')}`)}:`);
    for (const line of shown.slice(0, 8)) log(`     ${line}`);
    if (shown.length > 8) log(color.dim(`     ... ${shown.length - 8} more`));
  }
  // The governance status carries it too, below the rule versions (`meshless rollout catalog
  // --status` prints the same section alone).
  const status = await cli(consul, prefix, ['status', 'catalog']);
  const from = status.findIndex((l) => /^\s*rollout v3 vs v2/.test(l));
  log(`   ${color.cyan('meshless status catalog')} (its rollout section):`);
  for (const line of from < 0 ? ['(no rollout section)'] : status.slice(from, from + 5))
    log(`     ${line.trim()}`);
}

/** Runs a `meshless` command in this process (the CLI's run()), its output as lines. */
async function cli(consul: DemoConsul, prefix: string, args: string[]): Promise<string[]> {
  let out = '';
  await meshlessCli([...args, '--prefix', prefix, '--consul', consul.address], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    env: {},
  });
  return out.trimEnd().split('\n');
}

/** A registered caller behind mesh.serve(), so FleetSignals finds it and reads its calls by subset. */
async function startStorefront(consul: DemoConsul, prefix: string): Promise<Mesh> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const mesh = await createMesh({
    consul: { address: consul.address },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: {
      name: CALLER,
      port: (server.address() as AddressInfo).port,
      address: '127.0.0.1',
      version: 's1',
      id: `${CALLER}-rollout`,
      drainMs: 0,
    },
  });
  server.on(
    'request',
    mesh.serve((_req, res) => res.end('storefront')),
  );
  const close = mesh.close.bind(mesh);
  return Object.assign(mesh, {
    close: async () => {
      await close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}

interface PacedTraffic {
  readonly ok: number;
  readonly failed: number;
  stop(): Promise<void>;
}

/** Three loops of a call then a 10 ms pause: bounded load (~200 req/s on an idle machine). */
function pacedTraffic(mesh: Mesh): PacedTraffic {
  const client = mesh.client('catalog');
  const t = { ok: 0, failed: 0 };
  let stopped = false;
  const loop = async (w: number) => {
    for (let i = w; !stopped; i += 3) {
      try {
        const res = await client.fetch(`/items/${(i % 3) + 1}`, { signal: AbortSignal.timeout(3000) });
        await res.arrayBuffer();
        if (res.ok) t.ok++;
        else t.failed++;
      } catch {
        t.failed++;
      }
      await sleep(10);
    }
  };
  const running = Promise.all([0, 1, 2].map(loop));
  return {
    get ok() {
      return t.ok;
    },
    get failed() {
      return t.failed;
    },
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/** Writes a rule and waits until every mesh in `meshes` applied that version. */
async function put(
  consul: DemoConsul,
  meshes: Mesh[],
  key: string,
  value: string | Uint8Array | object,
): Promise<void> {
  await consul.kv.put(key, value);
  await applied(meshes, key, (await consul.kv.get(key))!.modifyIndex);
}

/** Waits until every mesh in `meshes` applied (or rejected) `key` at `modifyIndex`. */
async function applied(meshes: Mesh[], key: string, modifyIndex: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const done = meshes.every((m) => {
      const s = m.status().rules.keys.find((k) => k.key === key);
      return s && (s.appliedIndex === modifyIndex || s.rejection?.index === modifyIndex);
    });
    if (done) return;
    await sleep(5);
  }
  throw new Error(`${key}@${modifyIndex} not applied in 5 s`);
}

async function restore(
  consul: DemoConsul,
  shop: Shop,
  keys: string[],
  saved: readonly (Awaited<ReturnType<DemoConsul['kv']['get']>> | undefined)[],
): Promise<void> {
  for (const [i, key] of keys.entries()) {
    const entry = saved[i];
    if (entry) await put(consul, [shop.gateway], key, entry.value);
    else await consul.kv.delete(key);
  }
}
