import { describe, expect, it } from 'vitest';
import { binomialBand, runConcurrently, startShop } from './helpers/backends.ts';
import { eventually, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

async function shop(prefix: string) {
  const service = `catalog-${prefix.slice(-8)}`;
  const { backends, gateway, kv, client } = await startShop(
    prefix,
    service,
    [
      ['v1', 'v1-a'],
      ['v1', 'v1-b'],
      ['v2', 'v2-a'],
    ],
    cleanup,
  );
  const setRoutes = (doc: object) => putApplied(kv, gateway, `${prefix}/services/${service}/routes`, doc);
  const versionOf = async (headers: Record<string, string> = {}) => {
    const res = await client.fetch('/items/1', { headers });
    expect(res.status).toBe(200);
    return ((await res.json()) as { version: string }).version;
  };
  return { service, backends, gateway, client, kv, setRoutes, versionOf };
}

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

describe('governed client: routing on a real Consul', () => {
  it('splits 90/10 within the binomial band and moves to 50/50 live', async () => {
    const { setRoutes, versionOf, gateway } = await shop(uniquePrefix('split'));
    await setRoutes({
      subsets,
      routes: [
        {
          name: 'default',
          to: [
            { subset: 'stable', weight: 90 },
            { subset: 'canary', weight: 10 },
          ],
        },
      ],
    });
    let canary = 0;
    const n = 2000;
    await runConcurrently(n, 16, async () => {
      if ((await versionOf()) === 'v2') canary++;
    });
    const [lo, hi] = binomialBand(n, 0.1);
    expect(canary).toBeGreaterThanOrEqual(lo);
    expect(canary).toBeLessThanOrEqual(hi);

    const changed = Date.now();
    await setRoutes({
      subsets,
      routes: [
        {
          name: 'default',
          to: [
            { subset: 'stable', weight: 50 },
            { subset: 'canary', weight: 50 },
          ],
        },
      ],
    });
    expect(Date.now() - changed).toBeLessThan(1000);
    let canary2 = 0;
    await runConcurrently(1000, 16, async () => {
      if ((await versionOf()) === 'v2') canary2++;
    });
    const [lo2, hi2] = binomialBand(1000, 0.5);
    expect(canary2).toBeGreaterThanOrEqual(lo2);
    expect(canary2).toBeLessThanOrEqual(hi2);
    expect(gateway.status().rules.rejectedTotal).toBe(0);
  });

  it('sends beta users to the canary only and keeps sticky users on one subset', async () => {
    const { setRoutes, versionOf } = await shop(uniquePrefix('sticky'));
    const stickyRoutes = (canaryWeight: number) => ({
      subsets,
      routes: [
        {
          name: 'beta',
          match: { headers: { 'x-user-group': { exact: 'beta' } } },
          to: [{ subset: 'canary', weight: 100 }],
        },
        {
          name: 'default',
          stickyBy: { header: 'x-user-id' },
          to: [
            { subset: 'stable', weight: 100 - canaryWeight },
            { subset: 'canary', weight: canaryWeight },
          ],
        },
      ],
    });
    await setRoutes(stickyRoutes(10));
    for (let i = 0; i < 50; i++)
      expect(await versionOf({ 'x-user-group': 'beta', 'x-user-id': `b${i}` })).toBe('v2');

    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const before = new Map<string, string>();
    for (const u of users) {
      const seen = new Set<string>();
      for (let k = 0; k < (u === 'user-0' ? 100 : 3); k++) seen.add(await versionOf({ 'x-user-id': u }));
      expect(seen.size).toBe(1);
      before.set(u, [...seen][0]!);
    }
    await setRoutes(stickyRoutes(50));
    let moved = 0;
    for (const u of users) {
      const now = await versionOf({ 'x-user-id': u });
      if (now !== before.get(u)) {
        moved++;
        // Only stable users move to the canary when its share grows; nobody moves back.
        expect(before.get(u)).toBe('v1');
        expect(now).toBe('v2');
      }
    }
    // 40 % of users must move (10 % -> 50 %); allow the binomial band of 200 users.
    const [lo, hi] = binomialBand(200, 0.4);
    expect(moved).toBeGreaterThanOrEqual(lo);
    expect(moved).toBeLessThanOrEqual(hi);
  });

  it('mirrors to the shadow subset without touching the caller, and injects faults at the configured share', async () => {
    const { setRoutes, versionOf, backends, client } = await shop(uniquePrefix('mirror'));
    const shadow = backends[2]!;
    shadow.behave = (req, res) => {
      if (!req.headers['x-meshless-mirror']) return false;
      // The shadow is slow and broken: the caller must see neither.
      setTimeout(() => {
        res.writeHead(500);
        res.end();
      }, 200);
      return true;
    };
    await setRoutes({
      subsets,
      routes: [
        {
          name: 'default',
          to: [{ subset: 'stable', weight: 100 }],
          mirror: { subset: 'canary', percent: 100 },
        },
      ],
    });
    const started = Date.now();
    for (let i = 0; i < 20; i++) expect(await versionOf()).toBe('v1');
    expect(Date.now() - started).toBeLessThan(1000);
    await eventually(() => shadow.mirrored >= 20, 5000, 'mirrored copies');

    await setRoutes({
      subsets,
      routes: [
        {
          name: 'default',
          to: [{ subset: 'stable', weight: 100 }],
          fault: { abort: { percent: 20, status: 503 } },
        },
      ],
    });
    let aborted = 0;
    const n = 1000;
    await runConcurrently(n, 16, async () => {
      const res = await client.fetch('/items/2');
      await res.arrayBuffer();
      if (res.status === 503 && res.headers.get('x-meshless-fault') === 'abort') aborted++;
    });
    const [lo, hi] = binomialBand(n, 0.2);
    expect(aborted).toBeGreaterThanOrEqual(lo);
    expect(aborted).toBeLessThanOrEqual(hi);
  });
});
