import type { ServerResponse } from 'node:http';
import { run } from '@meshless/cli';
import type { Mesh } from 'meshless';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FleetView } from '../packages/cli/src/fleet-view/model.ts';
import { buildCli, spawnBuiltCli } from './helpers/built-cli.ts';
import { consulAddress, eventually, putApplied } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { canaryAnswer, headerCanaryRoutes, startServedScene } from './helpers/served-mesh.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

// The signal test runs the built command.
beforeAll(buildCli, 180_000);

/** catalog v1 (fast) and v2 (~30 ms slower, every 10th request a 503), a gateway sending `x-canary: 1` to v2. */
async function startScene() {
  const { prefix, service, gatewayName, backends, gateway, kv } = await startServedScene(cleanup, 'top', {
    'v2-a': canaryAnswer(10, 30),
  });
  await putApplied(kv, gateway, `${prefix}/services/${service}/policies`, { retry: { attempts: 1 } });
  await putApplied(kv, gateway, `${prefix}/services/${service}/routes`, headerCanaryRoutes);
  // A rule the catalog instances apply themselves: their rows get a rule state of their own.
  for (const b of backends) {
    await putApplied(kv, b.mesh, `${prefix}/services/${service}/inbound`, {
      fault: { abort: { percent: 0, status: 503 } },
    });
  }
  const client = gateway.client(service);
  await client.fetch('/warmup').then((r) => r.arrayBuffer());
  await eventually(() => client.status().endpoints === 2, 5000, '2 endpoints');
  return { prefix, service, gatewayName, client };
}

/** Paced traffic to both versions until the returned stop() (about 60 req/s to v1, 30 to v2). */
function trafficUntilStopped(client: ReturnType<Mesh['client']>): () => Promise<void> {
  let running = true;
  const worker = async (canary: boolean) => {
    while (running) {
      const res = await client.fetch('/items', canary ? { headers: { 'x-canary': '1' } } : {});
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  const all = Promise.all([worker(false), worker(false), worker(true)]);
  return async () => {
    running = false;
    await all;
  };
}

async function cli(args: string[], extra: object = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run([...args, '--consul', consulAddress()], {
    stdout: { write: (x: string) => (stdout += x) },
    stderr: { write: (x: string) => (stderr += x) },
    env: {},
    ...extra,
  });
  return { code, stdout, stderr };
}

describe('meshless top', () => {
  it('--once --json and the frame: both versions with their figures, rule state SYNCED, the edges', async () => {
    const { prefix, service, gatewayName, client } = await startScene();
    const stop = trafficUntilStopped(client);
    cleanup(stop);
    const names = [service, gatewayName];

    // The governance reports reach the checks within a few seconds: until then a key can read STALE.
    let view: FleetView | undefined;
    await eventually(
      async () => {
        const r = await cli(['top', ...names, '--once', '--json', '--window', '2s', '--prefix', prefix]);
        if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
        view = JSON.parse(r.stdout) as FleetView;
        const rows = view.rows.filter((x) => x.service === service);
        // 20 requests or more each: v2 then failed at least twice (every 10th), even on a slow machine.
        return (
          rows.length === 2 &&
          rows.every((x) => x.rules.SYNCED > 0 && x.rules.STALE === 0 && x.requests >= 20)
        );
      },
      20_000,
      'top shows both versions SYNCED, with traffic',
    );
    const row = (version: string) => view!.rows.find((r) => r.service === service && r.version === version)!;
    const v1 = row('v1');
    const v2 = row('v2');
    expect(v1).toMatchObject({ instances: 1, answered: 1, ejected: 0, openBreakers: 0 });
    expect(v1.rules.REJECTED).toBe(0);
    // Paced at ~60 and ~30 req/s; a loaded machine is slower, never faster.
    expect(v1.rps).toBeGreaterThan(3);
    expect(v1.rps).toBeLessThan(200);
    expect(v2.rps).toBeGreaterThan(1);
    expect(v2.rps).toBeLessThan(100);
    expect(v1.successRate).toBe(1);
    expect(v2.successRate).toBeGreaterThan(0.75);
    expect(v2.successRate).toBeLessThan(1);
    // v2 waits 30 ms per request: its median is above it, and above v1's.
    expect(v2.p50).toBeGreaterThanOrEqual(25);
    expect(v2.p50).toBeGreaterThan(v1.p50);
    expect(v1.p50).toBeLessThanOrEqual(v1.p95);
    expect(v1.p95).toBeLessThanOrEqual(v1.p99);
    // The gateway applies the catalog's routes and policies: its own row, SYNCED.
    const gw = view!.rows.find((r) => r.service === gatewayName)!;
    expect(gw.rules).toMatchObject({ STALE: 0, REJECTED: 0 });
    expect(gw.rules.SYNCED).toBeGreaterThanOrEqual(2);
    const edges = view!.edges.filter((e) => e.caller === gatewayName && e.service === service);
    expect(edges.map((e) => e.subset).sort()).toEqual(['canary', 'stable']);
    expect(edges.find((e) => e.subset === 'stable')!.errorShare).toBe(0);
    expect(edges.find((e) => e.subset === 'canary')!.errorShare).toBeGreaterThan(0);

    const text = await cli(['top', ...names, '--once', '--window', '1s', '--prefix', prefix]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^meshless top {2}\d\d:\d\d:\d\dZ {2}window 1s {2}3 rows {2}3 instances\n/);
    expect(text.stdout).toMatch(/SERVICE +VERSION +UP +RPS +SUCCESS +P50 +P95 +P99 +RULES +EJECTED +OPEN CB/);
    expect(text.stdout).toMatch(
      new RegExp(`${service} +v1 +1/1 +\\d+\\.\\d +100\\.00% .* SYNCED \\d+ +0 +0`),
    );
    expect(text.stdout).toMatch(
      new RegExp(`${service} +v2 +1/1 +\\d+\\.\\d +\\d+\\.\\d\\d% .* SYNCED \\d+ +0 +0`),
    );
    expect(text.stdout).toMatch(new RegExp(`${gatewayName} +${service} +canary`));
    await stop();
  });

  it('live: refreshes in place on a terminal, restores it when stopped; --json a document per refresh', async () => {
    const { prefix, service, client } = await startScene();
    const stop = trafficUntilStopped(client);
    cleanup(stop);
    const live = async (json: boolean, frames: number) => {
      const abort = new AbortController();
      let out = '';
      const stdout = {
        isTTY: true,
        columns: 160,
        rows: 40,
        write: (x: string) => {
          out += x;
          const count = json ? out.split('\n').length - 1 : out.split('\x1b[H').length - 2;
          if (count >= frames) abort.abort();
        },
      };
      const args = ['top', service, '--interval', '300ms', '--window', '1s', '--prefix', prefix];
      const code = await run([...args, ...(json ? ['--json'] : []), '--consul', consulAddress()], {
        stdout,
        stderr: { write: (x: string) => (out += `stderr: ${x}`) },
        env: {},
        signal: abort.signal,
      });
      return { code, out };
    };

    const tty = await live(false, 2);
    expect(tty.code).toBe(0);
    expect(tty.out.startsWith('\x1b[?1049h\x1b[?25l\x1b[H')).toBe(true); // alternate screen, cursor hidden
    expect(tty.out.endsWith('\x1b[?25h\x1b[?1049l')).toBe(true); // and back
    expect(tty.out).not.toContain('\x1b[2J'); // never a full clear: no flicker
    const frames = tty.out.split('\x1b[H').slice(2);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const f of frames) expect(f).toMatch(new RegExp(`${service} +v1 +1/1`));

    const json = await live(true, 2);
    expect(json.code).toBe(0);
    const docs = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FleetView);
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const d of docs) expect(d.rows.map((r) => r.version)).toEqual(['v1', 'v2']);
    expect(docs[1]!.at).toBeGreaterThan(docs[0]!.at);
    await stop();
  });

  it('the command in its own process ends with exit 0 on SIGINT and on SIGTERM: nothing left open', async () => {
    const { prefix, service, client } = await startScene();
    const stop = trafficUntilStopped(client);
    cleanup(stop);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const { output, stop: signal } = spawnBuiltCli(cleanup, [
        'top',
        service,
        '--interval',
        '300ms',
        '--window',
        '1s',
        '--prefix',
        prefix,
        '--consul',
        consulAddress(),
      ]);
      const all = () => output.out + output.err;
      // Piped: plain frames one after another; two of them, then the signal.
      await eventually(() => all().split('meshless top  ').length > 2, 20_000, `two frames: ${all()}`);
      expect(all()).toMatch(new RegExp(`${service} +v2 +1/1`));
      expect(all()).not.toContain('\x1b['); // no escapes when not a terminal
      // A handle left open would keep it running (a second signal is what forces an exit).
      expect(await signal(sig), `${sig}: ${all().slice(-500)}`).toEqual([0, null]);
    }
    await stop();
  });

  it('shows the endpoints the callers have ejected and the breakers they hold open', async () => {
    const failing = new Set(['v1-b']);
    const answer = (name: string) => (res: ServerResponse) => {
      res.statusCode = failing.has(name) ? 500 : 200;
      res.end('{}');
    };
    const { prefix, service, gatewayName, gateway, kv } = await startServedScene(
      cleanup,
      'top-health',
      { 'v1-a': answer('v1-a'), 'v1-b': answer('v1-b'), 'v1-c': answer('v1-c') },
      [
        ['v1', 'v1-a'],
        ['v1', 'v1-b'],
        ['v1', 'v1-c'],
      ],
    );
    await putApplied(kv, gateway, `${prefix}/services/${service}/policies`, {
      retry: { attempts: 1 },
      breaker: { errorPercent: 50, volume: 5, openMs: 60_000 },
    });
    await putApplied(kv, gateway, `${prefix}/services/${service}/balancer`, { algorithm: 'round-robin' });
    const client = gateway.client(service);
    await client.fetch('/warmup').then((r) => r.arrayBuffer());
    await eventually(() => client.status().endpoints === 3, 5000, '3 endpoints');
    const call = async (n: number) => {
      for (let i = 0; i < n; i++) await (await client.fetch('/x')).arrayBuffer();
    };
    // v1-b fails every call: its breaker opens.
    await call(40);
    await eventually(() => gateway.status().breakers.some((b) => b.state === 'open'), 5000, 'a breaker open');
    // Then outlier detection, and v1-c failing: ejected after two errors in a row (before its breaker's volume).
    await putApplied(kv, gateway, `${prefix}/services/${service}/balancer`, {
      algorithm: 'round-robin',
      outlier: { consecutiveErrors: 2, maxEjectionPercent: 50 },
    });
    failing.add('v1-c');
    await call(20);
    await eventually(() => client.status().ejected.length === 1, 5000, 'one endpoint ejected');

    const r = await cli([
      'top',
      service,
      gatewayName,
      '--once',
      '--json',
      '--window',
      '1s',
      '--prefix',
      prefix,
    ]);
    expect(r.stderr).toBe('');
    const view = JSON.parse(r.stdout) as FleetView;
    const row = view.rows.find((x) => x.service === service)!;
    expect(row).toMatchObject({ version: 'v1', instances: 3, ejected: 1, openBreakers: 1 });
    expect(view.rows.find((x) => x.service === gatewayName)).toMatchObject({ ejected: 0, openBreakers: 0 });
    const text = await cli(['top', service, '--once', '--window', '1s', '--prefix', prefix]);
    expect(text.stdout).toMatch(new RegExp(`${service} +v1 +3/3 .* 1 +1\\n`));
  });

  it('refuses bad flags with a usage error', async () => {
    for (const args of [['--interval', '5ms'], ['--window', '2h'], ['--interval', 'soon'], ['a/b']]) {
      const r = await cli(['top', ...args, '--once']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: meshless top/);
    }
  });
});
