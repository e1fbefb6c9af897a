import type { Clock, Disposable, Endpoint, Random } from '@meshless/core';
import { BlockingWatch, type BlockingWatchOptions, type WatchStats } from './blocking-watch.ts';
import type { ConsulConnection } from './connection.ts';
import { applyEndpointDelta, reconcileEndpoints, reviveEndpoint } from './endpoint-delta.ts';
import { EndpointInterner, parseHealthServices, sameEndpoints } from './health-parse.ts';
import type { HealthWorkerHost, WorkerWatch } from './health-worker-host.ts';
import type { HealthWatchSpec } from './health-worker-protocol.ts';

/**
 * Where a service's health answers are received, parsed and compared: `main` on the main thread;
 * `worker` in the discovery worker (the main thread gets only the changed endpoints); `auto` on
 * the main thread until an answer holds `offThreadAbove` endpoints, then in the worker.
 */
export type DiscoveryThread = 'auto' | 'worker' | 'main';

export interface DatacenterWatchOptions {
  readonly connection: ConsulConnection;
  readonly spec: HealthWatchSpec;
  readonly worker: HealthWorkerHost | undefined;
  readonly thread: DiscoveryThread;
  readonly offThreadAbove: number;
  readonly watch?: Pick<BlockingWatchOptions<unknown>, 'waitMs' | 'backoff' | 'rateLimit'>;
  readonly clock?: Clock;
  readonly random?: Random;
  /** A new list from Consul (after a change, or after the first answer). */
  onList(endpoints: readonly Endpoint[]): void;
  onError(error: unknown, info: { failures: number; retryInMs: number }): void;
  /** Each accepted answer, changed or not. */
  onAnswer(): void;
}

/**
 * One datacenter's health watch for a resolver, on the main thread or in the discovery worker.
 * `list` is what Consul last said (the resolver may serve something else, e.g. nothing for a
 * datacenter it has no path to).
 */
export class DatacenterWatch implements Disposable {
  private readonly options: DatacenterWatchOptions;
  private list: readonly Endpoint[] | undefined;
  private local: BlockingWatch<readonly Endpoint[]> | undefined;
  private remote: WorkerWatch | undefined;
  private readonly pool = new EndpointInterner();
  private readonly ended: Promise<void>[] = [];
  private disposed = false;

  constructor(options: DatacenterWatchOptions) {
    this.options = options;
    if (options.worker !== undefined && options.thread === 'worker') this.moveToWorker();
    else this.local = this.startLocal();
  }

  get endpoints(): readonly Endpoint[] | undefined {
    return this.list;
  }

  /** Where this watch runs now. */
  get thread(): 'main' | 'worker' {
    return this.remote === undefined ? 'main' : 'worker';
  }

  stats(): WatchStats {
    const remote = this.remote?.stats();
    // Until the worker's watch has answered or failed, the main thread's last figures stand.
    if (remote !== undefined && (remote.index > 0 || remote.failures > 0 || this.localStats === undefined))
      return remote;
    return this.local?.stats() ?? this.localStats ?? remote!;
  }

  private localStats: WatchStats | undefined;

  /** Writes the list to the resolver's cache file: from the worker when it runs there. */
  cache(file: string, datacenter: string | undefined, writeHere: () => void): void {
    if (this.remote !== undefined) this.remote.cacheTo(file, datacenter);
    else writeHere();
  }

  get done(): Promise<void> {
    return Promise.all([...this.ended, this.local?.done, this.remote?.done]).then(() => {});
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.local?.dispose();
    this.remote?.dispose();
  }

  private startLocal(): BlockingWatch<readonly Endpoint[]> {
    const { spec } = this.options;
    const parseOptions = { includeWarning: spec.includeWarning };
    return new BlockingWatch<readonly Endpoint[]>({
      connection: this.options.connection,
      path: spec.path,
      query: spec.query,
      parse: (res) => parseHealthServices(res.body, spec.service, spec.datacenter, parseOptions),
      equals: sameEndpoints,
      // A cluster restarted whole may first answer "no instances" from an unreplayed log.
      confirmAfterFailure: true,
      onChange: (endpoints) => {
        this.list = endpoints;
        this.options.onList(endpoints);
      },
      onError: (error, info) => this.options.onError(error, info),
      onAnswer: () => {
        this.options.onAnswer();
        const { worker, thread, offThreadAbove } = this.options;
        if (worker !== undefined && thread === 'auto' && (this.list?.length ?? 0) >= offThreadAbove)
          this.moveToWorker();
      },
      ...this.options.watch,
      ...(spec.stale ? { stale: true } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...(this.options.random ? { random: this.options.random } : {}),
    });
  }

  /** From now on the worker receives and compares the answers; the main thread's watch ends. */
  private moveToWorker(): void {
    if (this.disposed || this.remote !== undefined) return;
    const local = this.local;
    if (local !== undefined) {
      this.localStats = local.stats();
      local.dispose();
      this.ended.push(local.done);
      this.local = undefined;
    }
    this.remote = this.options.worker!.watch(this.options.spec, {
      onFull: (endpoints) => this.take(reconcileEndpoints(this.list ?? [], endpoints, this.pool)),
      onDelta: (upserts, removed) =>
        this.take(
          applyEndpointDelta(this.list ?? [], { upserts, removed }, (e) => reviveEndpoint(e, this.pool)),
        ),
      onError: (error, info) => this.options.onError(error, info),
      onAnswer: () => this.options.onAnswer(),
    });
  }

  private take(endpoints: readonly Endpoint[]): void {
    // A delta that changed nothing, or a whole list re-sent (a worker started over, the move)
    // that reconciled to the same: the same object comes back. Anything else is a change.
    if (endpoints === this.list) return;
    this.list = endpoints;
    this.options.onList(endpoints);
  }
}
