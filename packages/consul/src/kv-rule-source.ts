import {
  type Clock,
  type Disposable,
  Emitter,
  type Event,
  type Logger,
  noopLogger,
  type RawRule,
  type RuleSnapshot,
  type RuleSource,
  systemClock,
} from '@meshless/core';
import { BlockingWatch, type BlockingWatchOptions, type WatchStats } from './blocking-watch.ts';
import type { ConsulConnection, ConsulResponse } from './connection.ts';
import { cacheFileName, DiskCache } from './disk-cache.ts';
import { KvListingReader } from './kv-listing-reader.ts';
import {
  classifyEmptying,
  isEmptying,
  type ListingShape,
  markerKey,
  type SplitListing,
  type StatusEntry,
  shapeOf,
  splitListing,
} from './rule-listing.ts';

/**
 * Rules held back: the prefix read as empty in one step, which is far more likely an access or
 * data loss than an operator's intent, so the last good rules stay in force.
 */
export interface RulesHold {
  /** `checking`: asking Consul why; `denied`: the token cannot read the keys; `empty`: the prefix lost everything, marker included. */
  readonly reason: 'checking' | 'denied' | 'empty';
  /** Epoch ms when the hold began. */
  readonly since: number;
  /** Rules kept in force. */
  readonly keys: number;
  /** What happened and what to do, for people. */
  readonly message: string;
}

export interface ConsulRuleSourceOptions {
  connection: ConsulConnection;
  /** KV prefix, default `meshless`. */
  prefix?: string;
  /**
   * Datacenter whose KV holds the rules (`?dc=`), for one governance center across a WAN-joined
   * fleet: KV is per datacenter and not replicated. Default: the connection's, else the agent's own.
   */
  datacenter?: string;
  /** Folder for the last-known-good copy; `false` disables it. */
  cacheDir?: string | false;
  logger?: Logger;
  clock?: Clock;
  /** Passed to the blocking watch (wait, backoff, rate limit, stale). */
  watch?: Pick<BlockingWatchOptions<unknown>, 'waitMs' | 'backoff' | 'rateLimit' | 'stale'>;
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
  /** The datacenter the rules are read from; undefined: the agent's own. */
  readonly datacenter: string | undefined;
  private readonly emitter = new Emitter<RuleSnapshot>();
  private readonly watch: BlockingWatch<RuleSnapshot>;
  private readonly cache: DiskCache<CachedSnapshot> | undefined;
  private readonly logger: Logger;
  private current: RuleSnapshot | undefined;
  private readonly firstEmitter = new Emitter<RuleSnapshot | undefined>();
  private settled = false;
  private disposed = false;
  private readonly connection: ConsulConnection;
  private readonly clock: Clock;
  /** Keeps each unchanged key's decoded entry from one listing to the next. */
  private readonly reader = new KvListingReader();
  /** The rules of the last snapshot pushed (live or cached), to judge an emptied listing against. */
  private applied: ListingShape | undefined;
  private held: RulesHold | undefined;
  /** Bumped by every listing, so a judgement that finishes after a newer listing is dropped. */
  private listings = 0;
  private statusEntries_: ReadonlyMap<string, StatusEntry> = new Map();
  private listedRules_ = 0;
  private readonly holdEmitter = new Emitter<RulesHold | undefined>();
  private readonly statusEmitter = new Emitter<ReadonlyMap<string, StatusEntry>>();
  /** The hold began, changed reason, or ended (undefined). */
  readonly onDidChangeHold: Event<RulesHold | undefined> = this.holdEmitter.event;
  /** A listing changed only the `_status/` folder, or came while the rules are held (entries by full key). */
  readonly onDidChangeStatusEntries: Event<ReadonlyMap<string, StatusEntry>> = this.statusEmitter.event;

  constructor(options: ConsulRuleSourceOptions) {
    this.prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    const { connection } = options;
    this.connection = connection;
    this.datacenter = options.datacenter ?? connection.options.datacenter;
    if (options.cacheDir !== false && options.cacheDir !== undefined) {
      // The datacenter is part of the key: a dc2 agent's copy of dc1's rules is not dc2's own.
      const where = this.datacenter === undefined ? [] : [`dc-${this.datacenter}`];
      const file = `${options.cacheDir}/${cacheFileName('rules', connection.address, ...where, this.prefix)}`;
      this.cache = new DiskCache(file, (error) =>
        this.logger.warn('rule cache unavailable', { file, error: (error as Error).message }),
      );
    }
    this.watch = new BlockingWatch<RuleSnapshot>({
      connection,
      path: `/v1/kv/${this.prefix}/`,
      query: { recurse: true, dc: this.datacenter },
      acceptStatus: [404],
      // A cluster restarted whole may first answer from an unreplayed log: an empty prefix (a false
      // "rules held") or older values. The first changed answer after a failure is read consistently.
      confirmAfterFailure: true,
      parse: (res) => this.reader.read(res),
      onChange: (snapshot) => this.receive(snapshot),
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

  /** Set while an emptied prefix is held back (the last good rules stay in force). */
  hold(): RulesHold | undefined {
    return this.held;
  }

  /** The `_status/` entries of the last listing, by full key. */
  get statusEntries(): ReadonlyMap<string, StatusEntry> {
    return this.statusEntries_;
  }

  /** Rule documents in the last live listing (0 before the first). */
  get listedRules(): number {
    return this.listedRules_;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watch.dispose();
    this.emitter.dispose();
    this.firstEmitter.dispose();
    this.holdEmitter.dispose();
    this.statusEmitter.dispose();
  }

  /** Resolves when the background loop has stopped (after dispose). */
  get stopped(): Promise<void> {
    return this.watch.done.then(() => this.cache?.flush());
  }

  private loadCache(why = 'consul unreachable; using cached rules'): void {
    const cached = this.cache?.read();
    if (!cached || this.current) return;
    this.logger.warn(why, { prefix: this.prefix, index: cached.index });
    const entries = cached.entries.map((e) => ({
      key: e.key,
      value: e.value === null ? null : Buffer.from(e.value, 'base64'),
      modifyIndex: e.modifyIndex,
    }));
    this.applied = shapeOf(splitListing(entries, this.prefix));
    this.push({ index: cached.index, origin: 'cache', entries }, false);
  }

  /** A live listing: the `_status/` folder goes to its own listeners, the rules to the store, unless the listing emptied. */
  private receive(snapshot: RuleSnapshot): void {
    if (this.disposed) return;
    const listing = splitListing(snapshot.entries, this.prefix);
    const seq = ++this.listings;
    this.statusEntries_ = listing.status;
    this.listedRules_ = listing.rules.length;
    // A restart that finds the prefix empty judges it against the rules it ran before.
    if (!this.applied && listing.rules.length === 0)
      this.loadCache('prefix reads as empty; judging it against the cached rules');
    if (isEmptying(this.applied, listing)) {
      // Held before anyone hears of the listing: nothing may re-create the marker meanwhile.
      void this.judge(snapshot, listing, seq);
      this.fireStatus();
      return;
    }
    this.release();
    if (!this.pushRules(snapshot, listing)) this.fireStatus();
  }

  /**
   * Pushes the rules unless they did not change (a write to `_status/` alone wakes the watch too).
   * False when nothing was pushed: rule consumers read `statusEntries` on push, the status
   * listeners hear of the folder only when no rules were pushed, so each listing reaches one.
   */
  private pushRules(snapshot: RuleSnapshot, listing: SplitListing): boolean {
    const rules: RuleSnapshot = { index: snapshot.index, origin: 'source', entries: listing.rules };
    this.applied = shapeOf(listing);
    if (this.current?.origin === 'source' && sameEntries(this.current.entries, rules.entries)) {
      this.current = rules;
      return false;
    }
    this.push(rules, true);
    return true;
  }

  private fireStatus(): void {
    if (this.statusEmitter.hasListeners) this.statusEmitter.fire(this.statusEntries_);
  }

  /** Asks Consul why the listing emptied (one GET of a key it had), then applies or holds. */
  private async judge(snapshot: RuleSnapshot, listing: SplitListing, seq: number): Promise<void> {
    const previous = this.applied!;
    if (!this.held) this.setHold('checking', previous, 'the prefix reads as empty; checking why');
    const status = await this.probe(previous.someKey);
    if (seq !== this.listings || this.disposed) return;
    const verdict = classifyEmptying(previous, listing, status);
    if (verdict === 'apply') {
      this.release();
      this.pushRules(snapshot, listing);
      return;
    }
    const n = `${previous.rules} rule${previous.rules === 1 ? '' : 's'}`;
    const message =
      verdict === 'denied'
        ? `Consul denies reading ${previous.someKey} (HTTP 403): the token lost key:read on ${this.prefix}/, so the prefix reads as empty. The last good ${n} stay in force. Grant key_prefix "${this.prefix}/" read to this instance's token.`
        : `${this.prefix}/ is empty, marker included: Consul lost its data or the prefix was wiped. The last good ${n} stay in force. Restore the rules; or, if you meant to delete them all, confirm with: consul kv put ${markerKey(this.prefix)} confirmed`;
    if (this.held?.reason !== verdict) this.setHold(verdict, previous, message);
  }

  private setHold(reason: RulesHold['reason'], previous: ListingShape, message: string): void {
    this.held = { reason, since: this.held?.since ?? this.clock.wallNow(), keys: previous.rules, message };
    if (reason !== 'checking') this.logger.error(`RULES HELD: ${message}`, { prefix: this.prefix, reason });
    this.holdEmitter.fire(this.held);
  }

  private release(): void {
    if (!this.held) return;
    this.held = undefined;
    this.logger.warn('rules no longer held: the prefix is readable again', { prefix: this.prefix });
    this.holdEmitter.fire(undefined);
  }

  /** HTTP status of a direct GET of `key`, or undefined when Consul did not answer. */
  private async probe(key: string | undefined): Promise<number | undefined> {
    if (key === undefined) return undefined;
    try {
      const res = await this.connection.request({
        path: `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`,
        query: { dc: this.datacenter },
        timeoutMs: 5000,
      });
      return res.status;
    } catch {
      return undefined;
    }
  }

  /**
   * The disk copy's text (a CachedSnapshot), of entries serialized once each: an unchanged key
   * keeps its text from the last write, and its value the base64 Consul sent (not encoded again).
   */
  private cacheText(index: number, entries: readonly RawRule[]): string {
    const parts: string[] = [];
    for (const e of entries) {
      let text = cacheEntryText.get(e);
      if (text === undefined) {
        const value =
          e.value === null ? null : (this.reader.textOf(e) ?? Buffer.from(e.value).toString('base64'));
        text = JSON.stringify({ key: e.key, value, modifyIndex: e.modifyIndex });
        cacheEntryText.set(e, text);
      }
      parts.push(text);
    }
    return `{"index":${JSON.stringify(index)},"entries":[${parts.join(',')}]}`;
  }

  private push(snapshot: RuleSnapshot, live: boolean): void {
    if (this.disposed) return;
    const first = !this.current;
    this.current = snapshot;
    // Consumers first; the disk copy is written in the background (never on the apply path).
    this.emitter.fire(snapshot);
    if (live && this.cache) {
      const { index, entries } = snapshot;
      this.cache.writeTextLater(() => this.cacheText(index, entries));
    }
    if (first && !this.settled) {
      this.settled = true;
      this.firstEmitter.fire(snapshot);
    }
  }
}

/** One entry of the disk copy as JSON, made once per entry object (the reader hands unchanged ones on). */
const cacheEntryText = new WeakMap<RawRule, string>();

function sameEntries(a: readonly RawRule[], b: readonly RawRule[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue; // the listing reader hands on an unchanged entry as the same object
    if (x.key !== y.key || x.modifyIndex !== y.modifyIndex) return false;
    if (x.value === y.value) continue;
    if (
      x.value === null ||
      y.value === null ||
      !Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength).equals(y.value)
    )
      return false;
  }
  return true;
}

/** Parses a `GET /v1/kv/<prefix>/?recurse` answer (404 = empty prefix), on its own (no reuse). */
export function parseKvListing(res: ConsulResponse): RuleSnapshot {
  return new KvListingReader().read(res);
}
