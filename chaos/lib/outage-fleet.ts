// The setup the agent-outage scenarios share: a dev agent, two loopback backends registered
// through their own meshes (they re-register when a restarted agent has forgotten them), and a
// gateway with a disk cache, calling the backends. `kvAt()` writes rules and reads their index.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import type { Mesh, MeshClient } from 'meshless';
import { eventually, hasApplied, uniquePrefix } from '../../test/helpers/consul-plain.ts';
import { type Backend, startBackendAt, startGatewayAt } from '../../test/helpers/loopback-backend.ts';
import type { ScenarioContext } from './scenario.ts';

export interface OutageFleet {
  agent: ConsulDevAgent;
  prefix: string;
  service: string;
  backends: Backend[];
  gateway: Mesh;
  client: MeshClient;
  /** Writes `doc` at the service's `section` key; resolves with the ModifyIndex Consul gave it. */
  putRule(section: string, doc: object): Promise<{ key: string; modifyIndex: number }>;
  /** True once the gateway has `key` at `modifyIndex` in force. */
  applied(key: string, modifyIndex: number): boolean;
}

export async function startOutageFleet(ctx: ScenarioContext, name: string): Promise<OutageFleet> {
  const agent = await ConsulDevAgent.start();
  ctx.defer(() => agent.stop());
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  const backends: Backend[] = [];
  for (const id of ['a', 'b']) {
    const backend = await startBackendAt(agent.address, service, 'v1', id, {
      prefix,
      // A short TTL: the heartbeat (ttl / 3) finds a restarted dev agent's empty catalog sooner.
      service: { ttlMs: 3000 },
    });
    ctx.defer(() => backend.stop());
    backends.push(backend);
  }
  const cacheDir = mkdtempSync(join(tmpdir(), `meshless-chaos-${name}-`));
  ctx.defer(() => rmSync(cacheDir, { recursive: true, force: true }));
  const gateway = await startGatewayAt(agent.address, prefix, { cacheDir });
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
    // A connection per write: the agent may have restarted since the last one.
    const connection = new ConsulConnection({ address: agent.address });
    try {
      const kv = new ConsulKv(connection);
      const key = `${prefix}/services/${service}/${section}`;
      await kv.put(key, doc);
      return { key, modifyIndex: (await kv.get(key))!.modifyIndex };
    } finally {
      await connection.close();
    }
  };
  return {
    agent,
    prefix,
    service,
    backends,
    gateway,
    client,
    putRule,
    applied: (key, modifyIndex) => hasApplied(gateway, key, modifyIndex),
  };
}
