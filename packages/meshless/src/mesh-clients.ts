import { ClosedError, ConfigError, type Disposable, parseOrThrow, type Resolver } from '@meshless/core';
import { MeshClient, type MeshClientDeps, type MeshClientOptions } from './client/mesh-client.ts';
import { datacentersSchema } from './mesh-options.ts';

export interface MeshClientsOptions {
  /** What every client shares: rules, breakers, transport, telemetry, the mesh's in-flight count. */
  readonly shared: Omit<MeshClientDeps, 'service' | 'resolver'>;
  /** A service's endpoints in a failover order (undefined: the agent's own datacenter only). */
  readonly resolve: (service: string, datacenters: readonly string[] | undefined) => Resolver;
  /** The mesh's failover order, for clients that name none. */
  readonly datacenters: readonly string[] | undefined;
  /** After a client is made: the documents of a newly called service now affect this instance. */
  readonly onDidMake?: (service: string) => void;
}

interface Entry {
  readonly client: MeshClient;
  /** The failover order the client was made with, joined ('' for the agent's own datacenter). */
  readonly order: string;
}

/**
 * `mesh.client(service)`: one MeshClient per service, made on first use, closed with the mesh.
 * Its discovery follows the failover order it was made with, so a later call that names another
 * order is a ConfigError rather than a silently different client.
 */
export class MeshClients implements Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly options: MeshClientsOptions;
  private closed = false;

  constructor(options: MeshClientsOptions) {
    this.options = options;
  }

  client(service: string, options: MeshClientOptions = {}): MeshClient {
    if (this.closed) throw new ClosedError(`mesh is closed (client for ${service})`);
    parseOrThrow(datacentersSchema.optional(), options.datacenters, { pathPrefix: ['datacenters'] });
    const datacenters = options.datacenters ?? this.options.datacenters;
    const order = datacenters?.length ? datacenters.join(',') : '';
    const existing = this.entries.get(service);
    if (existing) {
      if (options.datacenters !== undefined && existing.order !== order) {
        throw new ConfigError(
          `datacenters: the client for ${service} already exists with failover order [${existing.order}]`,
          { path: 'datacenters' },
        );
      }
      return existing.client;
    }
    const resolver = this.options.resolve(service, datacenters?.length ? datacenters : undefined);
    const client = new MeshClient({ ...this.options.shared, service, resolver });
    this.entries.set(service, { client, order });
    this.options.onDidMake?.(service);
    return client;
  }

  /** The services called so far (the governance check follows their documents). */
  services(): IterableIterator<string> {
    return this.entries.keys();
  }

  all(): MeshClient[] {
    return [...this.entries.values()].map((e) => e.client);
  }

  dispose(): void {
    this.closed = true;
    for (const { client } of this.entries.values()) client.dispose();
    this.entries.clear();
  }
}
