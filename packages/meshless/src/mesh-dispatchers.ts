import { ClosedError } from '@meshless/core';
import { MeshDispatcher, type MeshDispatcherOptions } from './client/dispatcher.ts';
import type { MeshClient } from './client/mesh-client.ts';

/**
 * The mesh's dispatchers (`mesh.dispatcher()`): one shared when no options are given, a new one
 * per call with options; each closed with the mesh, so no pass-through connection stays open.
 */
export class MeshDispatchers {
  private readonly clientFor: (service: string) => MeshClient;
  private readonly made = new Set<MeshDispatcher>();
  private shared: MeshDispatcher | undefined;
  private closed = false;

  constructor(clientFor: (service: string) => MeshClient) {
    this.clientFor = clientFor;
  }

  dispatcher(options?: MeshDispatcherOptions): MeshDispatcher {
    if (this.closed) throw new ClosedError('mesh is closed (dispatcher)');
    if (options === undefined && this.shared !== undefined) return this.shared;
    const dispatcher = new MeshDispatcher(this.clientFor, options);
    this.made.add(dispatcher);
    if (options === undefined) this.shared = dispatcher;
    return dispatcher;
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true;
    await Promise.all([...this.made].map((d) => d.closeWithin(graceMs)));
    this.made.clear();
  }
}
