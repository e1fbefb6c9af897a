import type { Disposable } from './disposable.ts';

/** One KV entry under the prefix, as the source saw it. `value` null means an empty/folder key. */
export interface RawRule {
  /** The full key, prefix included: `meshless/services/catalog/routes`. */
  readonly key: string;
  readonly value: Uint8Array | null;
  readonly modifyIndex: number;
}

/** Every entry under the prefix at one moment: the unit a RuleStore applies. */
export interface RuleSnapshot {
  /** The source's index for the whole listing (Consul's X-Consul-Index). */
  readonly index: number;
  readonly entries: readonly RawRule[];
  /** `cache` when read from the on-disk last-known-good copy while the source is unreachable. */
  readonly origin: 'source' | 'cache';
}

/** Pushes full snapshots of the rule prefix. Background errors are reported, never thrown. */
export interface RuleSource extends Disposable {
  readonly prefix: string;
  subscribe(listener: (snapshot: RuleSnapshot) => void): Disposable;
  /** The first snapshot, or undefined when none could be read (the source keeps trying). */
  ready(): Promise<RuleSnapshot | undefined>;
  /** How its watch is doing, for status. */
  stats(): RuleSourceStats;
}

/** A rule source's watch, as status reports it. */
export interface RuleSourceStats {
  /** Index of the last accepted answer (0 before the first). */
  readonly index: number;
  /** Consecutive failures now (0 while healthy). */
  readonly failures: number;
}
