// A bad rule written during load: a stable (v1) and a canary (v2) backend, a gateway routing all
// calls to stable, and an inbound rate limit on the backends. Under 100 calls/s, an operator saves
// a routes document that would send everything to the canary but has a type error, and an inbound
// document with a typo. Both are rejected with their field paths; the good ones stay in force (no
// call reaches the canary); the backends' Consul checks stay passing (a rejection reports, it does
// not drop the instance from discovery); no call fails.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import type { Mesh } from 'meshless';
import { eventually, putApplied, uniquePrefix } from '../../test/helpers/consul-plain.ts';
import { type Backend, startBackendAt, startGatewayAt } from '../../test/helpers/loopback-backend.ts';
import { failedOf, pacedLoad } from '../lib/paced-load.ts';
import { type ChaosScenario, check, round } from '../lib/scenario.ts';

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

function keyState(mesh: Mesh, key: string) {
  return mesh.status().rules.keys.find((k) => key.endsWith(k.key));
}

export const badRule: ChaosScenario = {
  name: 'bad-rule',
  fault: 'invalid routes and inbound documents saved under load',
  fast: true,
  timeoutMs: 60_000,
  async run({ defer }) {
    const agent = await ConsulDevAgent.start();
    defer(() => agent.stop());
    const connection = new ConsulConnection({ address: agent.address });
    defer(() => connection.close());
    const kv = new ConsulKv(connection);
    const prefix = uniquePrefix('bad');
    const service = `shop-${prefix.slice(-8)}`;
    const backends: Backend[] = [];
    for (const [version, name] of [
      ['v1', 'v1-a'],
      ['v2', 'v2-a'],
    ] as const) {
      const backend = await startBackendAt(agent.address, service, version, name, { prefix });
      defer(() => backend.stop());
      backends.push(backend);
    }
    const gateway = await startGatewayAt(agent.address, prefix);
    defer(() => gateway.close());
    const client = gateway.client(service);
    await eventually(
      async () => {
        await (await client.fetch('/warmup')).arrayBuffer();
        return client.status().endpoints === 2;
      },
      10_000,
      'both backends discovered',
    );
    const routesKey = `${prefix}/services/${service}/routes`;
    const inboundKey = `${prefix}/services/${service}/inbound`;
    await putApplied(kv, gateway, routesKey, { subsets, routes: [{ to: [{ subset: 'stable' }] }] });
    for (const b of backends) await putApplied(kv, b.mesh, inboundKey, { rateLimit: { perSecond: 1000 } });
    // Status must list every key in force on each instance (seen missing once: say which were there).
    const stateOf = (mesh: Mesh, key: string, who: string) => {
      const state = keyState(mesh, key);
      if (!state)
        throw new Error(
          `${who}: status lists no ${key}; keys: ${mesh
            .status()
            .rules.keys.map((k) => k.key)
            .join(', ')}`,
        );
      return state;
    };
    const goodRoutes = stateOf(gateway, routesKey, 'gateway').appliedIndex;
    const goodInbound = backends.map((b) => stateOf(b.mesh, inboundKey, b.name).appliedIndex);

    // Health of every check of the service, polled through the load.
    const notPassing = new Set<string>();
    let polls = 0;
    let done = false;
    const health = (async () => {
      while (!done) {
        const checks = await connection.json<{ CheckID: string; Status: string }[]>({
          path: `/v1/health/checks/${service}`,
        });
        polls++;
        for (const c of checks) if (c.Status !== 'passing') notPassing.add(`${c.CheckID} ${c.Status}`);
        await sleep(100);
      }
    })();

    let badWritten = Number.POSITIVE_INFINITY;
    const versions: { sentAt: number; version: string }[] = [];
    const load = pacedLoad({
      rate: 100,
      count: 2000,
      until: () => done,
      call: async () => {
        const sentAt = performance.now();
        const res = await client.fetch('/items/1');
        if (res.status !== 200) {
          await res.arrayBuffer();
          return false;
        }
        versions.push({ sentAt, version: ((await res.json()) as { version: string }).version });
        return true;
      },
    });
    await sleep(1000);
    badWritten = performance.now();
    await kv.put(routesKey, { subsets, routes: [{ to: [{ subset: 'canary', weight: 'all of it' }] }] });
    await kv.put(inboundKey, { rateLimit: { perSecond: 1000, brust: 200 } });
    const meshes = [gateway, ...backends.map((b) => b.mesh)];
    const keys = [routesKey, inboundKey, inboundKey];
    let rejectedMs = Number.NaN;
    await eventually(
      () => meshes.every((m, i) => keyState(m, keys[i]!)?.state === 'rejected'),
      5000,
      'rejected',
    )
      .then(() => {
        rejectedMs = performance.now() - badWritten;
      })
      .catch(() => {});
    await sleep(1500); // load on the last good rules for a while
    done = true;
    const result = await load;
    await health;

    const routes = keyState(gateway, routesKey);
    const inbound = backends.map((b) => keyState(b.mesh, inboundKey));
    const toCanary = versions.filter((v) => v.sentAt > badWritten && v.version !== 'v1').length;
    const afterBad = versions.filter((v) => v.sentAt > badWritten).length;
    const messages = [routes?.rejection?.message, inbound[0]?.rejection?.message];
    return {
      checks: [
        check(
          'both documents rejected, with field paths, on every instance they affect',
          Number.isNaN(rejectedMs)
            ? 'not rejected in 5 s'
            : `in ${round(rejectedMs)} ms: ${messages.join('; ')}`,
          !Number.isNaN(rejectedMs) && /weight/.test(messages[0] ?? '') && /brust/.test(messages[1] ?? ''),
        ),
        check(
          'the last good documents stay in force (same ModifyIndex); no call to the canary',
          `${toCanary} of ${afterBad} calls after the bad write went to v2`,
          routes?.appliedIndex === goodRoutes &&
            inbound.every((s, i) => s?.appliedIndex === goodInbound[i]) &&
            toCanary === 0 &&
            afterBad > 100,
        ),
        check(
          "no health change: the service's checks stay passing",
          notPassing.size ? [...notPassing].join(', ') : `all passing in ${polls} polls`,
          notPassing.size === 0 && polls > 10,
        ),
        check('no call fails', failedOf(result), result.failed === 0),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        rejectedAfterWriteMs: rejectedMs,
        messages,
        callsAfterBadWrite: afterBad,
        toCanary,
        healthPolls: polls,
        notPassing: [...notPassing],
      },
    };
  },
};
