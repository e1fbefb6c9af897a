import { type ConsulConnection, Discovery } from '@meshless/consul';
import type { Clock, Logger, Resolver } from '@meshless/core';

export interface MeshDiscoveryParts {
  readonly connection: ConsulConnection;
  readonly cacheDir: string | false;
  readonly logger: Logger;
  readonly stale: boolean | undefined;
  /** The mesh's `discovery` option. */
  readonly thread?:
    | { thread?: 'auto' | 'worker' | 'main'; offThreadAbove?: number; cached?: boolean }
    | undefined;
  readonly clock: Clock;
  /** The rule watch: whether Consul has answered it yet (index 0 before the first answer). */
  readonly source: { stats(): { readonly index: number } };
  /** createMesh's bound on its start, counted from now. */
  readonly readyTimeoutMs: number;
}

/** Discovery of the services this instance calls, from Consul or its on-disk cache. */
export function createMeshDiscovery(p: MeshDiscoveryParts): Discovery {
  return new Discovery({
    connection: p.connection,
    cacheDir: p.cacheDir,
    logger: p.logger,
    stale: p.stale,
    cacheAfterMs: cacheAfterMs(p),
    ...(p.thread?.thread ? { thread: p.thread.thread } : {}),
    ...(p.thread?.offThreadAbove !== undefined ? { offThreadAbove: p.thread.offThreadAbove } : {}),
    ...(p.thread?.cached ? { cached: true } : {}),
  });
}

/**
 * How long a new resolver waits for Consul before serving its cached endpoints. Once Consul has
 * answered the rule watch, the full time; while it has not, what is left of createMesh's bound
 * (a client made after that deadline serves cached endpoints at once).
 */
export function cacheAfterMs(
  p: Pick<MeshDiscoveryParts, 'clock' | 'source' | 'readyTimeoutMs'>,
): () => number {
  const { clock, readyTimeoutMs, source } = p;
  const readyDeadline = clock.now() + readyTimeoutMs;
  return () => (source.stats().index > 0 ? readyTimeoutMs : Math.max(0, readyDeadline - clock.now()));
}

/** A called service's endpoints in a failover order (undefined: the agent's own datacenter only). */
export function calledService(
  discovery: Discovery,
  service: string,
  datacenters: readonly string[] | undefined,
): Resolver {
  // Keep instances whose only non-passing check is a warning (e.g. the governance check while
  // a rule is rejected): a bad rule must not take the fleet out of discovery.
  return discovery.resolver(service, { includeWarning: true, ...(datacenters ? { datacenters } : {}) });
}
