import { createMesh, type Mesh, type MeshOptions } from 'meshless';
import { consulAddress, eventually, kvClient, putApplied, uniquePrefix } from './consul.ts';
import { type Backend, startBackendAt, startGatewayAt } from './loopback-backend.ts';

export type { Backend } from './loopback-backend.ts';

/** An HTTP server on 127.0.0.1 registered in the shared agent as `service` (meta version), answering `{ version, instance }`. */
export function startBackend(
  service: string,
  version: string,
  name: string,
  extra: Partial<MeshOptions> = {},
): Promise<Backend> {
  return startBackendAt(consulAddress(), service, version, name, extra);
}

/** Binomial band: the share of `n` trials with probability p stays within mean ± z·sd (z 3.29 ≈ 99.9 %). */
export function binomialBand(n: number, p: number, z = 3.29): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - z * sd, n * p + z * sd];
}

/** Runs `count` calls with at most `concurrency` in flight. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/** A mesh that only calls (the gateway of a test), on the shared dev agent. */
export function startGateway(prefix: string, extra: Partial<MeshOptions> = {}): Promise<Mesh> {
  return startGatewayAt(consulAddress(), prefix, extra);
}

/** Backends of one service, started in order: `[['v1', 'v1-a'], ['v2', 'v2-a']]`. */
export async function startFleet(
  service: string,
  prefix: string,
  members: readonly (readonly [version: string, name: string])[],
): Promise<Backend[]> {
  const backends: Backend[] = [];
  for (const [version, name] of members)
    backends.push(await startBackend(service, version, name, { prefix }));
  return backends;
}

/**
 * A fleet of `service` on `prefix`, a gateway that has discovered all of it, and a KV client,
 * each stopped by `cleanup` (the registrar from useCleanupsAndNoUnhandledRejections).
 */
export async function startShop(
  prefix: string,
  service: string,
  members: readonly (readonly [version: string, name: string])[],
  cleanup: (fn: () => Promise<void> | void) => void,
) {
  const backends = await startFleet(service, prefix, members);
  cleanup(async () => {
    await Promise.all(backends.map((b) => b.stop()));
  });
  const gateway = await startGateway(prefix);
  cleanup(() => gateway.close());
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  const client = gateway.client(service);
  await client.fetch('/warmup');
  await eventually(() => client.status().endpoints === members.length, 5000, `${members.length} endpoints`);
  return { backends, gateway, kv, client };
}

/**
 * A mesh that serves `<name>-<id>` (not registered: the test calls it directly) and a way to set
 * its inbound rule, both closed by `cleanup`. `extra`: more createMesh options (observers, metrics).
 */
export async function startServedMesh(
  name: string,
  label: string,
  cleanup: (fn: () => Promise<void> | void) => void,
  extra: Partial<MeshOptions> = {},
) {
  const prefix = uniquePrefix(label);
  const service = `${name}-${prefix.slice(-8)}`;
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: service, port: 1, register: false },
    ...extra,
  });
  cleanup(() => mesh.close());
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  const setInbound = (doc: object) => putApplied(kv, mesh, `${prefix}/services/${service}/inbound`, doc);
  return { mesh, prefix, service, setInbound };
}
