import {
  type Clock,
  type Disposable,
  Emitter,
  type Logger,
  noopLogger,
  type RawRule,
  type RuleSnapshot,
  type RuleSource,
} from '@meshless/core';
import { BlockingWatch, type BlockingWatchOptions, type WatchStats } from './blocking-watch.ts';
import type { ConsulConnection, ConsulResponse } from './connection.ts';
import { cacheFileName, DiskCache } from './disk-cache.ts';

export interface ConsulRuleSourceOptions {
  connection: ConsulConnection;
  /** KV prefix, default `meshless`. */
  prefix?: string;
  /** Folder for the last-known-good copy; `false` disables it. */
  cacheDir?: string | false;
  logger?: Logger;
  clock?: Clock;
  /** Passed to the blocking watch (wait, backoff, rate limit, stale). */
  watch?: Pick<BlockingWatchOptions<unknown>, 'waitMs' | 'backoff' | 'rateLimit' | 'stale'>;
}

interface KvEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

interface CachedSnapshot {
  index: number;
  entries: { key: string; value: string | null; modifyIndex: number }[];
}

/**
 * The governance center as a RuleSource: one blocking query on the whole KV prefix (`recurse`),
 * pushing full snapshots. Each live snapshot is written to disk; when Consul cannot be reached
 * and nothing live has arrived yet, the cached snapshot is pushed instead (origin `cache`).
 */
export class ConsulRuleSource implements RuleSource {
  readonly prefix: string;
  private readonly emitter = new Emitter<RuleSnapshot>();
  private readonly watch: BlockingWatch<RuleSnapshot>;
  private readonly cache: DiskCache<CachedSnapshot> | undefined;
  private readonly logger: Logger;
  private current: RuleSnapshot | undefined;
  private readonly firstEmitter = new Emitter<RuleSnapshot | undefined>();
  private settled = false;
  private disposed = false;

  constructor(options: ConsulRuleSourceOptions) {
    this.prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
    this.logger = options.logger ?? noopLogger;
    const { connection } = options;
    if (options.cacheDir !== false && options.cacheDir !== undefined) {
      const file = `${options.cacheDir}/${cacheFileName('rules', connection.address, this.prefix)}`;
      this.cache = new DiskCache(file, (error) =>
        this.logger.warn('rule cache unavailable', { file, error: (error as Error).message }),
      );
    }
    this.watch = new BlockingWatch<RuleSnapshot>({
      connection,
      path: `/v1/kv/${this.prefix}/`,
      query: { recurse: true },
      acceptStatus: [404],
      parse: (res) => parseKvListing(res),
      onChange: (snapshot) => this.push(snapshot, true),
      onError: (error, info) => {
        this.logger.warn('rule watch failed; retrying', {
          prefix: this.prefix,
          error: (error as Error)?.message ?? String(error),
          failures: info.failures,
          retryInMs: info.retryInMs,
        });
        if (!this.current) this.loadCache();
        if (!this.settled) {
          this.settled = true;
          this.firstEmitter.fire(this.current);
        }
      },
      ...options.watch,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  subscribe(listener: (snapshot: RuleSnapshot) => void): Disposable {
    const sub = this.emitter.event(listener);
    // A late subscriber gets the current state at once, asynchronously like every other delivery.
    const current = this.current;
    if (current) queueMicrotask(() => !this.disposed && listener(current));
    return sub;
  }

  /**
   * Resolves with the first snapshot (live, or cached when Consul is unreachable), or with
   * undefined after the first failed attempt when there is no cache (defaults apply meanwhile).
   */
  ready(): Promise<RuleSnapshot | undefined> {
    if (this.current || this.settled) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const sub = this.firstEmitter.event((s) => {
        sub.dispose();
        resolve(s);
      });
    });
  }

  /**
   * Serves the on-disk copy when nothing live has arrived yet (createMesh calls it when its ready
   * time is up, so a Consul that accepts connections but never answers cannot hold the cache back).
   * The watch keeps trying; the first live snapshot replaces the cached one.
   */
  useCache(): void {
    if (this.current || this.disposed) return;
    this.loadCache();
    if (!this.settled) {
      this.settled = true;
      this.firstEmitter.fire(this.current);
    }
  }

  /** The last snapshot pushed. */
  get snapshot(): RuleSnapshot | undefined {
    return this.current;
  }

  stats(): Readonly<WatchStats> {
    return this.watch.stats();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watch.dispose();
    this.emitter.dispose();
    this.firstEmitter.dispose();
  }

  /** Resolves when the background loop has stopped (after dispose). */
  get stopped(): Promise<void> {
    return this.watch.done.then(() => this.cache?.flush());
  }

  private loadCache(): void {
    const cached = this.cache?.read();
    if (!cached || this.current) return;
    this.logger.warn('consul unreachable; using cached rules', { prefix: this.prefix, index: cached.index });
    this.push(
      {
        index: cached.index,
        origin: 'cache',
        entries: cached.entries.map((e) => ({
          key: e.key,
          value: e.value === null ? null : Buffer.from(e.value, 'base64'),
          modifyIndex: e.modifyIndex,
        })),
      },
      false,
    );
  }

  private push(snapshot: RuleSnapshot, live: boolean): void {
    if (this.disposed) return;
    const first = !this.current;
    this.current = snapshot;
    // Consumers first; the disk copy is written in the background (never on the apply path).
    this.emitter.fire(snapshot);
    if (live && this.cache) {
      this.cache.writeLater({
        index: snapshot.index,
        entries: snapshot.entries.map((e) => ({
          key: e.key,
          value: e.value === null ? null : Buffer.from(e.value).toString('base64'),
          modifyIndex: e.modifyIndex,
        })),
      });
    }
    if (first && !this.settled) {
      this.settled = true;
      this.firstEmitter.fire(snapshot);
    }
  }
}

/** Parses a `GET /v1/kv/<prefix>/?recurse` answer (404 = empty prefix). */
export function parseKvListing(res: ConsulResponse): RuleSnapshot {
  const index = res.index ?? 0;
  if (res.status === 404) return { index, entries: [], origin: 'source' };
  const list = JSON.parse(res.body.toString('utf8')) as KvEntry[];
  const entries: RawRule[] = list.map((e) => ({
    key: e.Key,
    value: e.Value === null ? null : Buffer.from(e.Value, 'base64'),
    modifyIndex: e.ModifyIndex,
  }));
  return { index, entries, origin: 'source' };
}
