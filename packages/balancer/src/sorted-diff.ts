import type { Endpoint } from '@meshless/core';

/** What changed between two lists sorted by id: entries of `prev` gone, entries of `next` new (a changed object is both). */
export interface SortedDiff<T> {
  readonly removed: T[];
  readonly added: T[];
}

/**
 * The difference of two lists sorted by id, by reference: entries that are the same object at
 * the merge position cost one comparison; the others are matched by id. `prev` must be sorted
 * by id without repeats (a list this function accepted before, or an empty one); `next` is
 * checked only where a run of unchanged entries starts or ends (inside a run it has `prev`'s
 * order). Returns undefined when `next` is not sorted by id or repeats one.
 */
export function sortedDiff<T extends Endpoint>(
  prev: readonly T[],
  next: readonly T[],
): SortedDiff<T> | undefined {
  const removed: T[] = [];
  const added: T[] = [];
  const m = prev.length;
  const n = next.length;
  let i = 0;
  let j = 0;
  let prevId = '';
  while (i < n) {
    const i0 = i;
    const j0 = j;
    while (i < n && j < m && next[i] === prev[j]) {
      i++;
      j++;
    }
    if (i > i0) {
      if (i0 > 0 && !(prevId < prev[j0]!.id)) return undefined;
      prevId = prev[j - 1]!.id;
      if (i === n) break;
    }
    const ep = next[i++]!;
    const id = ep.id;
    if (i > 1 && !(prevId < id)) return undefined;
    prevId = id;
    while (j < m && prev[j]!.id < id) removed.push(prev[j++]!);
    if (j < m && prev[j] === ep) {
      j++; // unchanged, after some that left
      continue;
    }
    if (j < m && prev[j]!.id === id) removed.push(prev[j++]!);
    added.push(ep);
  }
  while (j < m) removed.push(prev[j++]!);
  return { removed, added };
}

/** Where `id` goes in `list` (sorted by id): the index of the first entry not below it. */
export function lowerBoundById(list: readonly Endpoint[], id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `endpoints` sorted by id (the list itself when it already is: discovery hands sorted lists). */
export function sortedById(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  for (let i = 1; i < endpoints.length; i++) {
    if (!(endpoints[i - 1]!.id < endpoints[i]!.id)) {
      return [...endpoints].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
  }
  return endpoints;
}

/** Ids of `old` (sorted by id) that `next` (sorted by id) does not have. */
export function departedIds(old: readonly Endpoint[], next: readonly Endpoint[]): Set<string> {
  const departed = new Set<string>();
  let j = 0;
  for (const ep of old) {
    if (j < next.length && next[j] === ep) {
      j++;
      continue;
    }
    const id = ep.id;
    while (j < next.length && next[j]!.id < id) j++;
    if (j < next.length && next[j]!.id === id) j++;
    else departed.add(id);
  }
  return departed;
}
