import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@meshless/cli';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, putApplied } from '../helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from '../helpers/lifecycle.ts';
import { pacedCalls } from '../helpers/paced-calls.ts';
import { canaryAnswer, startServedScene } from '../helpers/served-mesh.ts';
import { launchChromium, screenshotOnFailure } from './consul-ui.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

/** `meshless dashboard` through run(), stopped by its AbortSignal; resolves with its URL. */
async function startDashboard(prefix: string): Promise<string> {
  const stop = new AbortController();
  let out = '';
  let err = '';
  const exited = run(
    ['dashboard', '--consul', consulAddress(), '--prefix', prefix, '--interval', '1s', '--window', '3s'],
    {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      signal: stop.signal,
    },
  );
  cleanup(async () => {
    stop.abort();
    expect(await exited, err).toBe(0);
  });
  await eventually(
    () => /http:\/\/127\.0\.0\.1:\d+\//.test(out),
    10_000,
    `the dashboard URL (stderr: ${err})`,
  );
  return /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!;
}

// A name an attacker who can register in Consul might choose: markup that runs script if rendered.
const HOSTILE = '<img src=x onerror=window.__pwned=1>';

describe('meshless dashboard in headless Chromium', () => {
  it('shows both versions with their figures, the gateway -> catalog edge, a rollout from KV, and a hostile name as text', async () => {
    const browser = await launchChromium();
    cleanup(() => browser.close());
    // v2: every 10th request a 503, and about 30 ms slower.
    const { prefix, service, gatewayName, backends, gateway, kv, connection } = await startServedScene(
      cleanup,
      'dash',
      { 'v2-a': canaryAnswer(10, 30) },
    );
    await putApplied(kv, gateway, `${prefix}/services/${service}/policies`, { retry: { attempts: 1 } });
    await putApplied(kv, gateway, `${prefix}/services/${service}/routes`, {
      subsets: { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } },
      routes: [
        {
          name: 'default',
          to: [
            { subset: 'stable', weight: 60 },
            { subset: 'canary', weight: 40 },
          ],
        },
      ],
    });
    const client = gateway.client(service);
    await eventually(() => client.status().endpoints === 2, 5000, '2 endpoints');
    const traffic = pacedCalls(client, { workers: 4, gapMs: 10, path: '/items' });
    cleanup(() => traffic.stop());

    // A rollout in progress, as the controller keeps it.
    const now = Date.now();
    await kv.put(`${prefix}/_rollout/${service}`, {
      version: 1,
      service,
      canary: 'canary',
      stable: 'stable',
      plan: [5, 40, 100],
      step: 1,
      weight: 40,
      routesIndex: 1,
      status: 'running',
      reason: 'judging step 2',
      startedAt: now - 60_000,
      updatedAt: now,
      controller: 'test',
      decisions: [],
    });
    // A hostile instance: v1's live signals relabelled with a service name and version made of markup.
    const hostile = createServer(async (_req, res) => {
      try {
        const answer = (await (
          await fetch(`http://127.0.0.1:${backends[0]!.port}/meshless/signals`)
        ).json()) as {
          service: string;
          inbound: { service: string }[];
        };
        answer.service = HOSTILE;
        for (const r of answer.inbound) r.service = HOSTILE;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer));
      } catch {
        res.statusCode = 502;
        res.end();
      }
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    cleanup(async () => {
      hostile.closeAllConnections();
      await new Promise((r) => hostile.close(r));
    });
    const hostileId = `hostile-${prefix.slice(-8)}`;
    const registered = await connection.request({
      method: 'PUT',
      path: '/v1/agent/service/register',
      body: JSON.stringify({
        ID: hostileId,
        Name: HOSTILE,
        Address: '127.0.0.1',
        Port: (hostile.address() as AddressInfo).port,
        Meta: { 'meshless-signals': '/meshless/signals', version: '<b>v9</b>' },
      }),
    });
    expect(registered.status, registered.body.toString()).toBe(200);
    cleanup(async () => {
      await connection.request({ method: 'PUT', path: `/v1/agent/service/deregister/${hostileId}` });
    });

    const url = await startDashboard(prefix);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    const requested = new Set<string>();
    page.on('request', (r) => requested.add(new URL(r.url()).pathname));
    await screenshotOnFailure(page, join(tmpdir(), 'meshless-dashboard-failed.png'), async () => {
      await page.goto(url);
      const row = (version: string, name = service) =>
        page.locator(`#services-body tr[data-service="${name}"][data-version="${version}"]`);
      const cell = async (version: string, col: string, name = service) =>
        (await row(version, name).locator(`td[data-col="${col}"]`).textContent()) ?? '';
      await row('v1').waitFor();
      await row('v2').waitFor();
      // Figures of a window that holds traffic: wait until v2 has shown an error (every 10th fails).
      await eventually(
        async () =>
          (await cell('v2', 'success')).endsWith('%') && parseFloat(await cell('v2', 'success')) < 100,
        20_000,
        'v2 errors on the page',
      );
      expect(await cell('v1', 'success')).toBe('100.00 %');
      const v2Success = parseFloat(await cell('v2', 'success'));
      expect(v2Success).toBeGreaterThan(70);
      expect(v2Success).toBeLessThan(99);
      for (const v of ['v1', 'v2']) {
        expect(parseFloat(await cell(v, 'rps'))).toBeGreaterThan(1);
        expect(Number(await cell(v, 'requests'))).toBeGreaterThan(0);
        expect(await cell(v, 'p99')).toMatch(/^\d+(\.\d)? ms$/);
      }
      // v2 waits 30 ms per request: its p50 is above v1's and above 25 ms.
      expect(parseFloat(await cell('v2', 'p50'))).toBeGreaterThan(25);
      expect(parseFloat(await cell('v2', 'p50'))).toBeGreaterThan(parseFloat(await cell('v1', 'p50')));

      // Rule state: the gateway applies the catalog's routes and policies, both in force.
      await eventually(
        async () => (await cell('g1', 'rules', gatewayName)) === 'SYNCED',
        20_000,
        'gateway SYNCED',
      );
      expect(await cell('v1', 'instances')).toBe('1 / 1');

      // The graph: both nodes and the edge with its rate and error share.
      const edge = page.locator(`#graph g.edge[data-caller="${gatewayName}"][data-service="${service}"]`);
      await edge.waitFor();
      await page.locator(`#graph g.node[data-service="${gatewayName}"]`).waitFor();
      await page.locator(`#graph g.node[data-service="${service}"]`).waitFor();
      await eventually(
        async () => Number(await edge.locator('text').getAttribute('data-error-share')) > 0,
        20_000,
        'errors on the edge',
      );
      const label = edge.locator('text');
      expect(Number(await label.getAttribute('data-rps'))).toBeGreaterThan(1);
      expect(Number(await label.getAttribute('data-error-share'))).toBeLessThan(0.2);
      expect(await label.textContent()).toMatch(/^\d+\.\d rps · \d+\.\d % err$/);
      // Callers drawn left of their callees.
      const x = async (name: string) =>
        Number(await page.locator(`#graph g.node[data-service="${name}"] rect`).getAttribute('x'));
      expect(await x(gatewayName)).toBeLessThan(await x(service));

      // The rollout panel: weight and step from KV, canary vs stable figures, a chart that grows.
      const panel = page.locator(`#rollouts section.rollout[data-service="${service}"]`);
      await panel.waitFor();
      const field = async (f: string) => (await panel.locator(`dd[data-field="${f}"]`).textContent()) ?? '';
      expect(await field('weight')).toBe('40 %');
      expect(await field('step')).toBe('2 / 3 (5, 40, 100)');
      expect(await panel.getAttribute('data-status')).toBe('running');
      await eventually(async () => parseFloat(await field('canary-errors')) > 0, 20_000, 'canary errors');
      expect(parseFloat(await field('canary-errors'))).toBeLessThan(30);
      expect(await field('stable-errors')).toBe('0.00 %');
      expect(parseFloat(await field('canary-p99'))).toBeGreaterThan(25);
      expect(await field('stable-p99')).toMatch(/^\d+(\.\d)? ms$/);
      const points = panel.locator('svg[data-chart="error rate"] polyline.canary');
      await eventually(
        async () => Number(await points.getAttribute('data-points')) >= 3,
        20_000,
        'three readings',
      );

      // The hostile name is shown as text; its markup made no element and ran nothing.
      const hostileShown = await page.locator('#services-body tr').evaluateAll((rows, name) => {
        const r = rows.find((tr) => tr.getAttribute('data-service') === name);
        return r ? [r.children[0]!.textContent, r.children[1]!.textContent] : null;
      }, HOSTILE);
      expect(hostileShown).toEqual([HOSTILE, '<b>v9</b>']);
      expect(await page.locator('img, b').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
      const nodeTitle = await page
        .locator('#graph g.node')
        .evaluateAll(
          (nodes, name) =>
            nodes.some(
              (g) =>
                g.getAttribute('data-service') === name && g.querySelector('title')?.textContent === name,
            ),
          HOSTILE,
        );
      expect(nodeTitle).toBe(true);

      const shot = join(tmpdir(), 'meshless-dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      // The CSP let the page's own script run and blocked nothing it needs.
      expect(problems).toEqual([]);
      expect(await page.locator('#status').getAttribute('class')).toBe('');
      // The figures arrived on the event stream; the page did not need to poll.
      expect(requested.has('/api/events')).toBe(true);
      expect(requested.has('/api/fleet')).toBe(false);
    });

    // Where the event stream is refused (a proxy that does not pass it), the page polls instead.
    const polling = await browser.newPage();
    polling.setDefaultTimeout(20_000);
    await polling.route('**/api/events', (r) => r.abort());
    const polled = polling.waitForResponse((r) => new URL(r.url()).pathname === '/api/fleet');
    await polling.goto(url);
    expect((await polled).status()).toBe(200);
    await polling.locator(`#services-body tr[data-service="${service}"][data-version="v2"]`).waitFor();
  }, 90_000);
});
