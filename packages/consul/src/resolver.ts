import {
  type Clock,
  type Disposable,
  Emitter,
  type Endpoint,
  type Logger,
  noopLogger,
  type Random,
  type Resolver,
  systemClock,
  type TimerHandle,
} from '@meshless/core';
import type { BlockingWatchOptions, WatchStats } from './blocking-watch.ts';
import type { ConsulConnection } from './connection.ts';
import {
  type DatacenterSelection,
  type DatacenterView,
  isNoPathToDatacenter,
  selectDatacenter,
} from './datacenter-selection.ts';
import { DatacenterWatch, type DiscoveryThread } from './datacenter-watch.ts';
import { cacheFileName, DiskCache } from './disk-cache.ts';
import { type CachedEndpoints, endpointsFromCache, sameEndpoints } from './health-parse.ts';
import type { HealthWorkerHost } from './health-worker-host.ts';

// The parser is part of the resolver's public surface (benchmarks, custom resolvers).
export {
  endpointsFromCache,
  type HealthServiceEntry,
  makeEndpoint,
  parseHealthServices,
  sameEndpoint,
  sameEndpoints,
  weightOf,
} from './health-parse.ts';
export { type DatacenterSelection, type DatacenterView, isNoPathToDatacenter, selectDatacenter };

export interface ConsulResolverOptions {
  connection: ConsulConnection;
  service: string;
  /** Failover order: the endpoints of the first datacenter with any healthy one. Default: the agent's own. */
  datacenters?: readonly string[];
  /** Only instances with all of these tags (filtered by Consul). */
  tags?: readonly string[];
  /**
   * Also serve instances whose worst check is `warning`, at their `Weights.Warning` (as Consul's
   * DNS does). Default false: `?passing` only, where one warning check (say, a governance check
   * reporting a rejected rule) takes the instance out of discovery.
   */
  includeWarning?: boolean;
  /** Read from any server (`?stale`): scales reads, may lag slightly. */
  stale?: boolean;
  /**
   * Ask the local agent's cache (`?cached`): it keeps one background blocking query per distinct
   * request and answers every watcher on the node from memory (always stale). Default false.
   */
  cached?: boolean;
  /** Folder for the last-known-good list; `false` or absent disables it. */
  cacheDir?: string | false;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Passed to each blocking watch. */
  watch?: ResolverWatchOptions;
  /**
   * Serve the on-disk list when Consul has not answered within this time (it may accept
   * connections and never answer); `ready()` then resolves with it. Default: only once a request failed.
   */
  cacheAfterMs?: number;
  /** The discovery worker to move big answers to (Discovery passes its own). Without it: the main thread. */
  worker?: HealthWorkerHost;
  /** Where answers are parsed and compared (see DiscoveryThread). Default `auto`. */
  thread?: DiscoveryThread;
  /** `auto` moves a watch to the worker once an answer holds this many endpoints. Default 256. */
  offThreadAbove?: number;
  /**
   * How long an empty answer right after an outage is not taken: an agent back from a long outage
   * restores TTL checks as critical until each instance's next heartbeat, so for a moment it lists
   * no passing instance of a healthy service. The last list is served meanwhile; an empty list
   * still there after this long is taken. Default 5000; 0 takes it at once.
   */
  holdEmptyAfterOutageMs?: number;
}

/** Blocking-watch tuning a resolver passes on (wait, backoff, rate limit). */
export type ResolverWatchOptions = Pick<BlockingWatchOptions<unknown>, 'waitMs' | 'backoff' | 'rateLimit'>;

/** Where the served endpoints came from: nothing yet, Consul, or the on-disk cache. */
export type EndpointsOrigin = 'none' | 'source' | 'cache';

export interface ResolverStats {
  readonly service: string;
  readonly endpoints: number;
  readonly origin: EndpointsOrigin;
  /** The datacenter whose endpoints are served (undefined: the agent's own, or none yet). */
  readonly datacenter: string | undefined;
  /** Emitted changes. */
  readonly changes: number;
  /** Every watch's last request succeeded. */
  readonly reachable: boolean;
  readonly watches: readonly ({
    readonly datacenter: string | undefined;
    /** Where its answers are parsed and compared now. */
    readonly thread: 'main' | 'worker';
  } & WatchStats)[];
}

interface DcState extends DatacenterView {
  endpoints: readonly Endpoint[] | undefined;
  failed: boolean;
  /** Consul's last list for it (`endpoints` may be emptied by a no-path answer meanwhile). */
  source: readonly Endpoint[] | undefined;
  /** A watch error since the last list taken. */
  outage: boolean;
  /** Serving the last list over an empty answer that came right after an outage. */
  hold: TimerHandle | undefined;
}

const noEndpoints: readonly Endpoint[] = Object.freeze([]);

/**
 * The healthy instances of one service, from Consul's `/v1/health/service/<name>?passing`, one
 * blocking watch per datacenter. Emits only real changes of the built endpoints (a check's new
 * output changes Consul's answer, not the endpoints). While Consul fails it keeps serving the last
 * list; each new non-empty list is written to disk, and read back when the first request fails.
 */
export class ConsulResolver implements Resolver, Disposable {
  readonly service: string;
  private readonly states: DcState[];
  private readonly watches: DatacenterWatch[];
  private readonly emitter: Emitter<readonly Endpoint[]>;
  private readonly cache: { readonly disk: DiskCache<CachedEndpoints>; readonly file: string } | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private list: readonly Endpoint[] = noEndpoints;
  private origin: EndpointsOrigin = 'none';
  private datacenter: string | undefined;
  private changes = 0;
  private settled = false;
  private disposed = false;
  private settle!: (endpoints: readonly Endpoint[]) => void;
  private readonly first: Promise<readonly Endpoint[]>;
  private cacheTimer: NodeJS.Timeout | undefined;

  constructor(options: ConsulResolverOptions) {
    this.service = options.service;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.emitter = new Emitter({
      onListenerError: (error) =>
        this.logger.error('endpoint listener threw', {
          service: this.service,
          error: (error as Error)?.message,
        }),
    });
    this.first = new Promise((resolve) => {
      this.settle = (endpoints) => {
        if (this.settled) return;
        this.settled = true;
        resolve(endpoints);
      };
    });
    const { connection } = options;
    const tags = [...(options.tags ?? [])].sort();
    const dcs = options.datacenters?.length ? options.datacenters : [undefined];
    const includeWarning = options.includeWarning === true;
    if (options.cacheDir) {
      // The plain file name for the plain case; filtered or failover views get their own file.
      const variant = [
        ...(tags.length ? [`tags-${tags.join(',')}`] : []),
        ...(options.datacenters?.length ? [`dc-${options.datacenters.join(',')}`] : []),
        ...(options.includeWarning ? ['warning'] : []),
      ];
      const file = `${options.cacheDir}/${cacheFileName('endpoints', connection.address, this.service, ...variant)}`;
      const disk = new DiskCache<CachedEndpoints>(file, (error) =>
        this.logger.warn('endpoint cache unavailable', { file, error: (error as Error)?.message }),
      );
      this.cache = { disk, file };
    }
    const path =
      `/v1/health/service/${encodeURIComponent(this.service)}` +
      (tags.length ? `?${tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&')}` : '');
    this.states = dcs.map((dc) => ({
      datacenter: dc,
      endpoints: undefined,
      failed: false,
      source: undefined,
      outage: false,
      hold: undefined,
    }));
    const holdMs = options.holdEmptyAfterOutageMs ?? 5000;
    this.watches = this.states.map((state) => {
      const dc = state.datacenter;
      return new DatacenterWatch({
        connection,
        spec: {
          path,
          query: {
            passing: !includeWarning,
            ...(options.cached ? { cached: true } : {}),
            ...(dc === undefined ? {} : { dc }),
          },
          service: this.service,
          datacenter: dc,
          includeWarning,
          stale: options.stale === true,
          ...options.watch,
        },
        worker: options.worker,
        thread: options.thread ?? 'auto',
        offThreadAbove: options.offThreadAbove ?? 256,
        ...(options.watch ? { watch: options.watch } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.random ? { random: options.random } : {}),
        onList: (endpoints) => {
          state.source = endpoints;
          state.failed = false;
          if (endpoints.length > 0 || !state.outage || !state.endpoints?.length || holdMs <= 0) {
            state.hold?.cancel();
            state.hold = undefined;
            state.outage = false;
            state.endpoints = endpoints;
          } else if (state.hold === undefined) {
            this.logger.warn(
              'consul lists no instance right after an outage; serving the last list a while',
              {
                service: this.service,
                datacenter: dc,
                holdMs,
              },
            );
            state.hold = this.clock.setTimeout(() => {
              state.hold = undefined;
              state.outage = false;
              state.endpoints = state.source;
              this.update();
            }, holdMs);
          }
          this.update();
        },
        onError: (error, info) => this.onWatchError(state, error, info),
        onAnswer: () => {
          // Answering again after a failure or a no-path answer, with a list that did not change.
          if (state.hold !== undefined && state.failed) {
            state.failed = false;
            this.update();
          }
          if (state.hold !== undefined) return;
          if (state.source === undefined || (state.endpoints === state.source && !state.failed)) return;
          state.endpoints = state.source;
          state.failed = false;
          this.update();
        },
      });
    });
    if (options.cacheAfterMs !== undefined) {
      if (options.cacheAfterMs <= 0) this.fallBackToCache();
      else {
        this.cacheTimer = setTimeout(() => this.fallBackToCache(), options.cacheAfterMs);
        this.cacheTimer.unref();
      }
    }
  }

  /** No answer in time: serve the cached list (if any) and let the first call go on with it. */
  private fallBackToCache(): void {
    this.cacheTimer = undefined;
    if (this.disposed || this.settled) return;
    if (this.origin === 'none') this.loadCache();
    this.settle(this.list);
  }

  current(): readonly Endpoint[] {
    return this.list;
  }

  /** Bound, so it can be passed around as an `Event` (`once(resolver.onDidChange)`). */
  readonly onDidChange = (listener: (endpoints: readonly Endpoint[]) => void): Disposable =>
    this.emitter.event(listener);

  /**
   * The first list: Consul's first answer, or the cached list once the first request failed, or
   * [] when it failed with no cache. Never rejects.
   */
  ready(): Promise<readonly Endpoint[]> {
    return this.first;
  }

  stats(): ResolverStats {
    const watches = this.states.map((s, i) => {
      const watch = this.watches[i]!;
      return { datacenter: s.datacenter, thread: watch.thread, ...watch.stats() };
    });
    return {
      service: this.service,
      endpoints: this.list.length,
      origin: this.origin,
      datacenter: this.datacenter,
      changes: this.changes,
      // A request sent is not an answer: index is set only by an accepted answer.
      reachable: watches.every((w) => w.failures === 0 && w.index > 0),
      watches,
    };
  }

  /** Resolves when every watch loop has ended (after dispose). */
  get stopped(): Promise<void> {
    return Promise.all(this.watches.map((w) => w.done)).then(() => this.cache?.disk.flush());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.cacheTimer);
    for (const s of this.states) s.hold?.cancel();
    for (const w of this.watches) w.dispose();
    this.emitter.dispose();
    this.settle(this.list);
  }

  private onWatchError(state: DcState, error: unknown, info: { failures: number; retryInMs: number }): void {
    if (this.disposed) return;
    const fields = {
      service: this.service,
      datacenter: state.datacenter,
      error: (error as Error)?.message ?? String(error),
      failures: info.failures,
      retryInMs: info.retryInMs,
    };
    if (isNoPathToDatacenter(error)) {
      // A real answer: that datacenter has nothing we can reach. The watch retries it with backoff.
      if (state.endpoints === undefined || state.endpoints.length > 0) {
        this.logger.warn('no path to datacenter; treating it as empty', fields);
        state.endpoints = noEndpoints;
      }
      state.failed = false;
    } else {
      state.failed = true;
      state.outage = true;
      if (info.failures === 1) this.logger.warn('endpoint watch failed; serving the last list', fields);
      else this.logger.debug('endpoint watch failed', fields);
    }
    this.update();
  }

  private update(): void {
    if (this.disposed) return;
    const selection = selectDatacenter(this.states);
    if (selection.kind === 'wait') return;
    if (selection.kind === 'none') {
      if (this.origin === 'none') this.loadCache();
      this.settle(this.list);
      return;
    }
    this.datacenter = selection.datacenter;
    const wasLive = this.origin === 'source';
    this.origin = 'source';
    const changed = !sameEndpoints(this.list, selection.endpoints);
    if (changed) this.list = selection.endpoints;
    const cache = this.cache;
    if ((changed || !wasLive) && this.list.length > 0 && cache !== undefined) {
      // An empty list is never cached: in an outage a stale list beats none. A watch in the
      // worker writes it there (serialising 10 000 endpoints is a stall of its own).
      const list = this.list;
      const datacenter = this.datacenter;
      const watch = this.watches[this.states.findIndex((s) => s.datacenter === datacenter)];
      const writeHere = () =>
        cache.disk.writeLater({
          service: this.service,
          ...(datacenter ? { datacenter } : {}),
          endpoints: [...list],
        });
      if (watch === undefined) writeHere();
      else watch.cache(cache.file, datacenter, writeHere);
    }
    this.settle(this.list);
    if (changed) this.fire();
  }

  private loadCache(): void {
    const cached = this.cache?.disk.read();
    const endpoints = cached ? endpointsFromCache(cached) : undefined;
    if (!endpoints || endpoints.length === 0) return;
    this.logger.warn('consul unreachable; using cached endpoints', {
      service: this.service,
      endpoints: endpoints.length,
    });
    this.origin = 'cache';
    this.datacenter = cached?.datacenter;
    this.list = endpoints;
    this.fire();
  }

  private fire(): void {
    this.changes++;
    this.emitter.fire(this.list);
  }
}
