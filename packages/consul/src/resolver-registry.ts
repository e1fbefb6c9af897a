import {
  type Clock,
  ClosedError,
  type Disposable,
  type Endpoint,
  type Logger,
  noopLogger,
  type Resolver,
} from '@meshless/core';
import type { ConsulConnection } from './connection.ts';
import type { DiscoveryThread } from './datacenter-watch.ts';
import { HealthWorkerHost } from './health-worker-host.ts';
import { ConsulResolver, type ResolverStats, type ResolverWatchOptions } from './resolver.ts';

export interface DiscoveryOptions {
  connection: ConsulConnection;
  /** Folder for the last-known-good endpoint lists; `false` or absent disables it. */
  cacheDir?: string | false;
  logger?: Logger;
  stale?: boolean;
  /** Discovery answers from the local agent's cache (`?cached`, see ConsulResolverOptions). */
  cached?: boolean;
  clock?: Clock;
  watch?: ResolverWatchOptions;
  /** Per new resolver: serve the cached list after this many ms without an answer (see ConsulResolver). */
  cacheAfterMs?: () => number;
  /**
   * Where health answers are parsed and compared: `auto` (default) moves a service's watch to one
   * worker thread per Discovery once its answer holds `offThreadAbove` (256) endpoints, so a big
   * fleet's changes cost the main thread what changed, not the fleet; `worker` always; `main` never.
   */
  thread?: DiscoveryThread;
  offThreadAbove?: number;
}

export interface DiscoveryResolverOptions {
  datacenters?: readonly string[];
  tags?: readonly string[];
  includeWarning?: boolean;
}

/** A lease on a shared resolver. `dispose()` releases it; the last release stops the watch. */
export interface SharedResolver extends Resolver, Disposable {
  readonly service: string;
  ready(): Promise<readonly Endpoint[]>;
  stats(): ResolverStats;
}

interface Entry {
  readonly resolver: ConsulResolver;
  refs: number;
}

/**
 * One ConsulResolver per (service, datacenters, tags) per process, however many clients ask:
 * each `resolver()` call returns a lease, and the resolver stops when its last lease is
 * disposed, or when the Discovery is.
 */
export class Discovery implements Disposable {
  private readonly options: DiscoveryOptions;
  private readonly entries = new Map<string, Entry>();
  private disposed = false;
  private worker: HealthWorkerHost | undefined;

  constructor(options: DiscoveryOptions) {
    this.options = options;
  }

  resolver(service: string, options: DiscoveryResolverOptions = {}): SharedResolver {
    if (this.disposed) throw new ClosedError(`discovery is disposed (resolver for ${service})`);
    // Datacenter order matters (failover); tag order does not (all must match).
    const datacenters = options.datacenters?.length ? [...options.datacenters] : undefined;
    const tags = options.tags?.length ? [...options.tags].sort() : undefined;
    const includeWarning = options.includeWarning === true;
    const key = JSON.stringify([service, datacenters ?? [], tags ?? [], includeWarning]);
    let entry = this.entries.get(key);
    if (!entry) {
      const o = this.options;
      entry = {
        resolver: new ConsulResolver({
          connection: o.connection,
          service,
          logger: o.logger ?? noopLogger,
          ...(datacenters ? { datacenters } : {}),
          ...(tags ? { tags } : {}),
          ...(includeWarning ? { includeWarning } : {}),
          ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
          ...(o.stale ? { stale: true } : {}),
          ...(o.cached ? { cached: true } : {}),
          ...(o.clock ? { clock: o.clock } : {}),
          ...(o.watch ? { watch: o.watch } : {}),
          ...(o.cacheAfterMs ? { cacheAfterMs: o.cacheAfterMs() } : {}),
          ...(o.thread !== 'main' ? { worker: this.workerHost() } : {}),
          ...(o.thread ? { thread: o.thread } : {}),
          ...(o.offThreadAbove !== undefined ? { offThreadAbove: o.offThreadAbove } : {}),
        }),
        refs: 0,
      };
      this.entries.set(key, entry);
    }
    entry.refs++;
    const owned = entry;
    return new ResolverLease(owned.resolver, () => {
      if (--owned.refs > 0 || this.entries.get(key) !== owned) return;
      this.entries.delete(key);
      owned.resolver.dispose();
    });
  }

  /** Created with the first resolver; its thread starts only when a watch moves there. */
  private workerHost(): HealthWorkerHost {
    this.worker ??= new HealthWorkerHost(this.options.connection.options, this.options.logger ?? noopLogger);
    return this.worker;
  }

  /** The discovery worker: running or not, and its heap in use (bytes; undefined without it). */
  async workerStats(): Promise<{ running: boolean; heapUsedBytes: number | undefined }> {
    const worker = this.worker;
    return { running: worker?.running ?? false, heapUsedBytes: await worker?.heapUsed() };
  }

  /** Stats of every live resolver. */
  stats(): ResolverStats[] {
    return [...this.entries.values()].map((e) => e.resolver.stats());
  }

  /** Stops every resolver (outstanding leases then serve their last list and never change). */
  private readonly stopping: Promise<void>[] = [];

  /** Resolves when every watch has stopped and the disk copies are written (after dispose). */
  get stopped(): Promise<void> {
    return Promise.all(this.stopping).then(() => this.worker?.dispose());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.entries.values()) {
      e.resolver.dispose();
      this.stopping.push(e.resolver.stopped);
    }
    this.entries.clear();
  }
}

class ResolverLease implements SharedResolver {
  private readonly subscriptions = new Set<Disposable>();
  private released = false;

  constructor(
    private readonly resolver: ConsulResolver,
    private readonly release: () => void,
  ) {}

  get service(): string {
    return this.resolver.service;
  }

  current(): readonly Endpoint[] {
    return this.resolver.current();
  }

  ready(): Promise<readonly Endpoint[]> {
    return this.resolver.ready();
  }

  stats(): ResolverStats {
    return this.resolver.stats();
  }

  readonly onDidChange = (listener: (endpoints: readonly Endpoint[]) => void): Disposable => {
    if (this.released) return { dispose() {} };
    const inner = this.resolver.onDidChange(listener);
    const sub: Disposable = {
      dispose: () => {
        inner.dispose();
        this.subscriptions.delete(sub);
      },
    };
    this.subscriptions.add(sub);
    return sub;
  };

  dispose(): void {
    if (this.released) return;
    this.released = true;
    for (const s of [...this.subscriptions]) s.dispose();
    this.release();
  }
}
