import type { Endpoint } from '@meshless/core';
import { lowerBoundById, type SortedDiff, sortedDiff } from './sorted-diff.ts';

/** What changed from `list` to the list being set, when known; else undefined. */
export type ChangeSince = (list: readonly Endpoint[]) => SortedDiff<Endpoint> | undefined;

const zoneOf = (ep: Endpoint): string => ep.zone ?? '';

/**
 * The endpoints of a locality scope (the caller's region, or everything) grouped by zone, kept
 * up to date by patching: a list sorted by id like the last one is diffed against it by
 * reference and only the endpoints that changed move (a binary search and a copy of their
 * zone's list each); anything else, or a large change, regroups from scratch. Zone lists are
 * never changed once handed out (pickers hold them): a patched zone gets a new array.
 */
export class ZoneIndex {
  private readonly region: string | undefined;
  /** Healthy endpoints in scope by zone, in order of first appearance (by id for sorted lists). */
  private zoneLists = new Map<string, Endpoint[]>();
  private healthyCount = 0;
  private prevHealthy: readonly Endpoint[] = [];
  private healthySorted = true;
  private readonly knownCounts = new Map<string, number>();
  private knownCount = 0;
  private prevKnown: readonly Endpoint[] = [];
  private knownSorted = true;

  /** False: regroup and recount on every change (the reference for the patching paths). */
  private readonly patch: boolean;

  constructor(region: string | undefined, patch = true) {
    this.region = region;
    this.patch = patch;
  }

  /** Healthy endpoints in scope by zone (do not modify the lists). */
  get zones(): ReadonlyMap<string, readonly Endpoint[]> {
    return this.zoneLists;
  }

  /** Healthy endpoints in scope. */
  get healthyInScope(): number {
    return this.healthyCount;
  }

  /** Known endpoints in scope. */
  get knownInScope(): number {
    return this.knownCount;
  }

  knownIn(zone: string): number {
    return this.knownCounts.get(zone) ?? 0;
  }

  /** The healthy endpoints in scope, in the order given (the region target; built on demand). */
  scopeHealthy(): Endpoint[] {
    return this.prevHealthy.filter((ep) => this.inScope(ep));
  }

  /**
   * `changeSince(list)`: what changed from `list` to `healthy` when the caller knows it (the
   * stats store does for its own handle lists), so no diff is run.
   */
  setHealthy(healthy: readonly Endpoint[], changeSince?: ChangeSince): void {
    if (healthy === this.prevHealthy) return;
    const known = this.healthySorted ? changeSince?.(this.prevHealthy) : undefined;
    const diff = known ?? sortedDiff(this.healthySorted ? this.prevHealthy : [], healthy);
    this.prevHealthy = healthy;
    this.healthySorted = diff !== undefined;
    if (
      !this.patch ||
      diff === undefined ||
      diff.removed.length + diff.added.length > patchLimit(healthy.length)
    ) {
      this.regroup(healthy);
      return;
    }
    if (diff.removed.length + diff.added.length === 0) return;
    const copied = new Set<string>();
    const writable = (zone: string): Endpoint[] => {
      let list = this.zoneLists.get(zone);
      if (!copied.has(zone)) {
        list = list === undefined ? [] : list.slice();
        this.zoneLists.set(zone, list);
        copied.add(zone);
      }
      return list!;
    };
    for (const ep of diff.removed) {
      if (!this.inScope(ep)) continue;
      const list = writable(zoneOf(ep));
      const at = lowerBoundById(list, ep.id);
      if (list[at] !== ep) {
        this.regroup(healthy); // not where it should be: start over rather than guess
        return;
      }
      list.splice(at, 1);
      this.healthyCount--; // an emptied zone is dropped below
    }
    for (const ep of diff.added) {
      if (!this.inScope(ep)) continue;
      const list = writable(zoneOf(ep));
      list.splice(lowerBoundById(list, ep.id), 0, ep);
      this.healthyCount++;
    }
    // Zone order as a regroup would have it: by each zone's first id.
    this.zoneLists = new Map(
      [...this.zoneLists]
        .filter(([, list]) => list.length > 0)
        .sort(([, a], [, b]) => (a[0]!.id < b[0]!.id ? -1 : a[0]!.id > b[0]!.id ? 1 : 0)),
    );
  }

  setKnown(known: readonly Endpoint[], changeSince?: ChangeSince): void {
    if (known === this.prevKnown) return;
    const given = this.knownSorted ? changeSince?.(this.prevKnown) : undefined;
    const diff = given ?? sortedDiff(this.knownSorted ? this.prevKnown : [], known);
    this.prevKnown = known;
    this.knownSorted = diff !== undefined;
    if (
      !this.patch ||
      diff === undefined ||
      diff.removed.length + diff.added.length > patchLimit(known.length)
    ) {
      this.knownCounts.clear();
      this.knownCount = 0;
      for (const ep of known) this.countKnown(ep, 1);
      return;
    }
    for (const ep of diff.removed) this.countKnown(ep, -1);
    for (const ep of diff.added) this.countKnown(ep, 1);
  }

  private inScope(ep: Endpoint): boolean {
    return this.region === undefined || ep.region === this.region;
  }

  private countKnown(ep: Endpoint, delta: number): void {
    if (!this.inScope(ep)) return;
    const zone = zoneOf(ep);
    const count = (this.knownCounts.get(zone) ?? 0) + delta;
    if (count === 0) this.knownCounts.delete(zone);
    else this.knownCounts.set(zone, count);
    this.knownCount += delta;
  }

  private regroup(healthy: readonly Endpoint[]): void {
    const lists = new Map<string, Endpoint[]>();
    let count = 0;
    for (const ep of healthy) {
      if (!this.inScope(ep)) continue;
      count++;
      const zone = zoneOf(ep);
      const list = lists.get(zone);
      if (list) list.push(ep);
      else lists.set(zone, [ep]);
    }
    this.zoneLists = lists;
    this.healthyCount = count;
  }
}

/** Most changed entries patched in place of a regroup (a patch costs a copy of a zone per change). */
function patchLimit(n: number): number {
  return 16 + (n >> 6);
}
