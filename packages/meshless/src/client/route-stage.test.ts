import { FAULT_HEADER, MIRROR_HEADER, NoHealthyEndpointError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import type { CallHandler } from './client-stage.ts';
import type { OutboundCall } from './outbound-call.ts';
import { routeStage } from './route-stage.ts';
import { clientSetup, outboundCall } from './test-support.ts';

function setup() {
  const s = clientSetup();
  const passed: OutboundCall[] = [];
  const next: CallHandler = (call) => {
    passed.push(call);
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const stage = routeStage({
    endpoints: s.groups,
    policies: s.policies,
    sender: s.sender,
    observer: s.observer,
    clock: s.clock,
    random: s.random,
  });
  return { ...s, passed, run: stage(next) };
}

const canary = {
  subsets: { v2: { tags: ['v2'] } },
  routes: [
    { name: 'beta', match: { headers: { 'x-beta': { exact: '1' } } }, to: [{ subset: 'v2', weight: 100 }] },
  ],
};

describe('routeStage', () => {
  it('decides route and subset before the rest of the chain, and opens and ends one scope with them', async () => {
    const { run, passed, observer, putRoutes } = setup();
    putRoutes(canary);
    const response = await run(outboundCall('GET', '/items/1', { headers: { 'x-beta': '1' } }));
    expect(response.status).toBe(204);
    expect(passed[0]!.decision).toMatchObject({ route: { name: 'beta' }, subset: 'v2', available: true });
    await run(outboundCall('GET', '/items/2'));
    expect(observer.events).toEqual([
      'call GET /items/1 route=beta subset=v2',
      'end 204',
      'call GET /items/2 route=(default) subset=all',
      'end 204',
    ]);
  });

  it('hands the call the policies of its operation and route (per-attempt timeouts included)', async () => {
    const { run, passed, source, putRoutes } = setup();
    source.put('services/catalog/policies', { timeoutMs: 250, methods: { getItem: { timeoutMs: 100 } } });
    await run(outboundCall());
    await run(outboundCall('GET', '/items/1', { operation: 'getItem' }));
    putRoutes({ routes: [{ name: 'slow', timeoutMs: 2000 }] });
    await run(outboundCall('GET', '/items/1', { operation: 'getItem' }));
    expect(passed.map((c) => c.policies.timeouts?.timeoutMs)).toEqual([250, 100, 2000]);
  });

  it('fails with NoHealthyEndpointError when the chosen subset has no endpoint, without going on', async () => {
    const { run, passed, observer, putRoutes, groups } = setup();
    putRoutes({
      ...canary,
      routes: [{ name: 'all-v3', to: [{ subset: 'v3', weight: 100 }] }],
      subsets: { v3: { tags: ['v3'] } },
    });
    expect(groups.table.routes.length).toBeGreaterThan(0);
    await expect(run(outboundCall())).rejects.toBeInstanceOf(NoHealthyEndpointError);
    expect(passed).toHaveLength(0);
    expect(observer.events.at(-1)).toBe('end NoHealthyEndpointError');
  });

  it('answers a fault abort itself, marked as injected, and counts it as rejected', async () => {
    const { run, passed, observer, putRoutes } = setup();
    putRoutes({ routes: [{ name: 'chaos', fault: { abort: { status: 503, percent: 100 } } }] });
    const response = await run(outboundCall());
    expect(response.status).toBe(503);
    expect(response.headers.get(FAULT_HEADER)).toBe('abort');
    expect(passed).toHaveLength(0);
    expect(observer.events).toContain('rejected fault injection: abort');
  });

  it('mirrors a copy to the shadow subset, marked and fire-and-forget', async () => {
    const { run, sender, observer, putRoutes } = setup();
    putRoutes({
      subsets: { v2: { tags: ['v2'] } },
      routes: [{ name: 'shadow', mirror: { subset: 'v2', percent: 100 } }],
    });
    await run(outboundCall());
    expect(sender.sent).toHaveLength(1);
    expect(['b', 'c']).toContain(sender.sent[0]!.endpoint);
    expect(sender.sent[0]!.req.headers[MIRROR_HEADER]).toBe('1');
    expect(sender.sent[0]!.req.discardBody).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(observer.events).toContain('mirrored v2 true');
  });
});
