// The setup the Consul-fault scenarios share: two loopback backends registered through their own
// meshes at `address`, and a gateway with a disk cache calling them. `putRule` writes a rule,
// retried while Consul refuses writes (no leader during an election), and returns its ModifyIndex.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulCluster } from '@meshless/consul/testing';
import type { Mesh, MeshClient } from 'meshless';
import { eventually, hasApplied, uniquePrefix } from '../../test/helpers/consul-plain.ts';
import { type Backend, startBackendAt, startGatewayAt } from '../../test/helpers/loopback-backend.ts';
import type { ScenarioContext } from './scenario.ts';

export interface Fleet {
  prefix: string;
  service: string;
  backends: Backend[];
  gateway: Mesh;
  client: MeshClient;
  /** Writes `doc` at the service's `section` key until Consul accepts it; key and ModifyIndex. */
  putRule(section: string, doc: object): Promise<{ key: string; modifyIndex: number }>;
  /** True once the gateway has `key` at `modifyIndex` in force. */
  applied(key: string, modifyIndex: number): boolean;
}

export async function startFleet(ctx: ScenarioContext, name: string, address: string): Promise<Fleet> {
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  const backends: Backend[] = [];
  for (const id of ['a', 'b']) {
    // meshless's default TTL (10 s): an agent down for less than that restores the instances'
    // checks as passing; one down for longer restores them critical until their next heartbeat.
    const backend = await startBackendAt(address, service, 'v1', id, { prefix });
    ctx.defer(() => backend.stop());
    backends.push(backend);
  }
  const cacheDir = mkdtempSync(join(tmpdir(), `meshless-chaos-${name}-`));
  ctx.defer(() => rmSync(cacheDir, { recursive: true, force: true }));
  const gateway = await startGatewayAt(address, prefix, { cacheDir });
  ctx.defer(() => gateway.close());
  const client = gateway.client(service);
  await eventually(
    async () => {
      await (await client.fetch('/warmup')).arrayBuffer();
      return client.status().endpoints === 2;
    },
    10_000,
    'both backends discovered',
  );
  const putRule = async (section: string, doc: object) => {
    const key = `${prefix}/services/${service}/${section}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      // A connection per try: the agent may have restarted since the last one.
      const connection = new ConsulConnection({ address });
      try {
        const kv = new ConsulKv(connection);
        await kv.put(key, doc);
        const entry = await kv.get(key);
        if (entry) return { key, modifyIndex: entry.modifyIndex };
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`PUT ${key} not accepted in 20 s: ${String(error)}`);
      } finally {
        await connection.close();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    prefix,
    service,
    backends,
    gateway,
    client,
    putRule,
    applied: (key, modifyIndex) => hasApplied(gateway, key, modifyIndex),
  };
}

/** A 3-server cluster (raft_multiplier 1) with one client agent, and a fleet on that agent. */
export async function startClusterFleet(
  ctx: ScenarioContext,
  name: string,
): Promise<{ cluster: ConsulCluster; fleet: Fleet }> {
  const cluster = await ConsulCluster.start({ servers: 3, raftMultiplier: 1, clientAgents: 1 });
  ctx.defer(() => cluster.close());
  return { cluster, fleet: await startFleet(ctx, name, cluster.clientAddress) };
}

/** Resolves with performance.now() once the cluster's client agent names a leader (polls every 25 ms). */
export async function clientAnswering(cluster: ConsulCluster, timeoutMs = 30_000): Promise<number> {
  const agent = cluster.clients[0]!;
  const deadline = performance.now() + timeoutMs;
  while ((await agent.leader().catch(() => undefined)) === undefined) {
    if (performance.now() > deadline) throw new Error(`the client agent named no leader in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now();
}

/**
 * The gateway's endpoint count over time, `[ms after t0, count]` at each change (polled every
 * 5 ms): places failed calls against what discovery said. Stops when the scenario ends.
 */
export function trackEndpoints(ctx: ScenarioContext, client: MeshClient, t0: number): [number, number][] {
  const changes: [number, number][] = [];
  const timer = setInterval(() => {
    const n = client.status().endpoints;
    if (changes.at(-1)?.[1] !== n) changes.push([Math.round(performance.now() - t0), n]);
  }, 5);
  ctx.defer(() => clearInterval(timer));
  return changes;
}
