// Three loopback backends of one service on a dev agent and a gateway that records every attempt
// (when, to which endpoint, which try), for the scenarios where a backend misbehaves.
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import type { Endpoint, Mesh, MeshClient } from 'meshless';
import { eventually, putApplied, uniquePrefix } from '../../test/helpers/consul-plain.ts';
import { type Backend, startBackendAt, startGatewayAt } from '../../test/helpers/loopback-backend.ts';
import type { ScenarioContext } from './scenario.ts';

export interface Attempt {
  at: number;
  id: string;
  attempt: number;
}

export interface Shop {
  backends: Backend[];
  gateway: Mesh;
  client: MeshClient;
  attempts: Attempt[];
  /** Writes the service's `section` document and waits until the gateway has it in force. */
  setRule(section: string, doc: object): Promise<void>;
}

export async function startShop(ctx: ScenarioContext, name: string): Promise<Shop> {
  const agent = await ConsulDevAgent.start();
  ctx.defer(() => agent.stop());
  const connection = new ConsulConnection({ address: agent.address });
  ctx.defer(() => connection.close());
  const kv = new ConsulKv(connection);
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  const backends: Backend[] = [];
  for (const id of ['a', 'b', 'c']) {
    const backend = await startBackendAt(agent.address, service, 'v1', id, { prefix });
    ctx.defer(() => backend.stop());
    backends.push(backend);
  }
  const attempts: Attempt[] = [];
  const gateway = await startGatewayAt(agent.address, prefix, {
    observers: {
      client: {
        onAttempt: (_s: string, ep: Endpoint, attempt: number) =>
          attempts.push({ at: performance.now(), id: ep.id, attempt }),
      },
    },
  });
  ctx.defer(() => gateway.close());
  const client = gateway.client(service);
  await eventually(
    async () => {
      await (await client.fetch('/warmup')).arrayBuffer();
      return client.status().endpoints === 3;
    },
    10_000,
    'three backends discovered',
  );
  return {
    backends,
    gateway,
    client,
    attempts,
    setRule: (section, doc) => putApplied(kv, gateway, `${prefix}/services/${service}/${section}`, doc),
  };
}

/** A call that resolves with its latency (ms), or rejects as the call did; a non-200 rejects too. */
export async function timedGet(client: MeshClient, path: string, latencies: number[]): Promise<boolean> {
  const started = performance.now();
  const res = await client.fetch(path);
  await res.arrayBuffer();
  latencies.push(performance.now() - started);
  return res.status === 200;
}

/** The backend that got the most attempts since `since` (P2C may leave one idle a while). */
export function busiest(backends: readonly Backend[], attempts: readonly Attempt[], since: number): Backend {
  const count = (b: Backend) => attempts.filter((a) => a.at > since && a.id.endsWith(`-${b.name}`)).length;
  return backends.reduce((best, b) => (count(b) > count(best) ? b : best));
}
