import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { startShop } from './helpers/backends.ts';
import { eventually, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

/** A stable (v1) and a canary (v2) backend, and a gateway calling them, on one prefix. */
async function shop(name: string) {
  const prefix = uniquePrefix(name);
  const service = `shop-${prefix.slice(-8)}`;
  const { backends, gateway, kv, client } = await startShop(
    prefix,
    service,
    [
      ['v1', 'v1-a'],
      ['v2', 'v2-a'],
    ],
    cleanup,
  );
  const routesKey = `${prefix}/services/${service}/routes`;
  const versionOf = async (headers: Record<string, string> = {}) => {
    const res = await client.fetch('/items/1', { headers });
    expect(res.status).toBe(200);
    return ((await res.json()) as { version: string }).version;
  };
  return { backends, gateway, kv, routesKey, versionOf };
}

describe('hostile rule documents and request data on a real mesh', () => {
  it('a route on a header named `constructor` catches only requests that send it', async () => {
    const { gateway, kv, routesKey, versionOf } = await shop('ctor');
    await putApplied(kv, gateway, routesKey, {
      subsets,
      routes: [
        { name: 'ctor', match: { headers: { constructor: { present: true } } }, to: [{ subset: 'canary' }] },
        { name: 'default', to: [{ subset: 'stable' }] },
      ],
    });
    expect(gateway.status().rules.rejectedTotal).toBe(0);
    // The header lookup read Object.prototype.constructor: every request went to the canary.
    for (let i = 0; i < 20; i++) expect(await versionOf({ accept: 'application/json' })).toBe('v1');
    expect(await versionOf({ constructor: 'yes' })).toBe('v2');
  });

  it('a 200 000-deep YAML document is rejected with its reason without blocking the instances', async () => {
    const { gateway, backends, kv, routesKey, versionOf } = await shop('deep');
    await putApplied(kv, gateway, routesKey, { subsets, routes: [{ to: [{ subset: 'stable' }] }] });
    const good = gateway.status().rules.keys.find((k) => routesKey.endsWith(k.key))!.appliedIndex;

    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    // 400 KB: under Consul's 512 KiB limit. Every instance on the prefix (gateway and backends,
    // all in this process) parses it.
    await kv.put(routesKey, `subsets: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`);
    const rejected = () => gateway.status().rules.keys.find((k) => routesKey.endsWith(k.key));
    await eventually(() => rejected()?.state === 'rejected', 10_000, 'deep document rejected');
    for (const b of backends) {
      await eventually(
        () => b.mesh.status().rules.keys.some((k) => routesKey.endsWith(k.key) && k.state === 'rejected'),
        10_000,
        `${b.name} rejected it`,
      );
    }
    delay.disable();

    const status = rejected()!;
    expect(status.rejection?.message).toBe('line 1: nesting deeper than 64 levels');
    expect(status.rejection?.code).toBe('MESHLESS_RULE_INVALID');
    // The last good document stays in force.
    expect(status.appliedIndex).toBe(good);
    expect(await versionOf()).toBe('v1');
    // The parser blocked each instance's event loop for seconds; the pre-scan takes milliseconds.
    expect(delay.max / 1e6).toBeLessThan(100);
  });
});
