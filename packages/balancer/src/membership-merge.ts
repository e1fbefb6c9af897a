import type { Endpoint } from '@meshless/core';
import { EndpointHandle } from './endpoint-handle.ts';
import type { EndpointStats } from './endpoint-stats.ts';

// The merge path of EndpointStatsStore.sync: a list sorted by id against the last one.

/** What a merge walk found (see mergeWalk). */
export interface MergeWalk {
  /** Unchanged runs as (start in the new list, start in the old one, length) triples. */
  readonly runs: number[];
  /** Endpoints not matched by reference, in order. */
  readonly fresh: Fresh[];
  /** Stats of ids that left. */
  readonly dropped: EndpointStats[];
  /** Positions in the old list of endpoints that left or changed. */
  readonly gone: number[];
}

/**
 * The merge walk of a sync: `endpoints` against the last membership's stats (`oldStats`, sorted
 * by id without repeats). A stats' endpoint is the object the last sync gave for its id, so
 * runs of unchanged endpoints cost one reference comparison each; the rest are matched by id.
 * Order is checked only where a run starts or ends (inside a run it is the old order).
 * Changes nothing; undefined when `endpoints` is not sorted by id or repeats one.
 */
export function mergeWalk(
  endpoints: readonly Endpoint[],
  oldStats: readonly EndpointStats[],
): MergeWalk | undefined {
  const m = oldStats.length;
  const n = endpoints.length;
  const runs: number[] = [];
  const fresh: Fresh[] = [];
  const dropped: EndpointStats[] = [];
  const gone: number[] = [];
  let i = 0;
  let j = 0;
  let prevId = '';
  while (i < n) {
    const i0 = i;
    const j0 = j;
    while (i < n && j < m && endpoints[i] === oldStats[j]!.endpoint) {
      i++;
      j++;
    }
    if (i > i0) {
      if (i0 > 0 && !(prevId < oldStats[j0]!.endpoint.id)) return undefined;
      runs.push(i0, j0, i - i0);
      prevId = oldStats[j - 1]!.endpoint.id;
      if (i === n) break;
    }
    const given = endpoints[i]!;
    const ep = given instanceof EndpointHandle ? given.endpoint : given;
    const id = ep.id;
    if (i > 0 && !(prevId < id)) return undefined;
    prevId = id;
    if (j < m && oldStats[j]!.endpoint === ep) {
      runs.push(i++, j++, 1); // a handle passed back in for an unchanged endpoint
      continue;
    }
    while (j < m && oldStats[j]!.endpoint.id < id) {
      gone.push(j);
      dropped.push(oldStats[j++]!);
    }
    if (j < m && oldStats[j]!.endpoint === ep) {
      runs.push(i++, j++, 1); // unchanged, after some that left
      continue;
    }
    let known: EndpointStats | undefined;
    if (j < m && oldStats[j]!.endpoint.id === id) {
      gone.push(j);
      known = oldStats[j++]!;
    }
    fresh.push({ at: i++, ep, stats: known });
  }
  while (j < m) {
    gone.push(j);
    dropped.push(oldStats[j++]!);
  }
  return { runs, fresh, dropped, gone };
}

/** An endpoint of a merge not matched by reference: where it goes, and its stats once known. */
export interface Fresh {
  readonly at: number;
  readonly ep: Endpoint;
  stats: EndpointStats | undefined;
}

/**
 * The new list of a merge: the unchanged runs copied from `source` a run at a time (slices,
 * joined by one concat: about memcpy speed), `freshValue` for the rest. Many pieces (a large
 * change) are written one by one instead.
 */
export function assemble<T>(
  n: number,
  m: number,
  runs: readonly number[],
  fresh: readonly Fresh[],
  source: readonly T[],
  freshValue: (f: Fresh) => T,
): T[] {
  if (runs.length === 3 && fresh.length === 0) return source.slice(runs[1]!, runs[1]! + runs[2]!);
  let inPlace = n === m;
  for (let r = 0; inPlace && r < runs.length; r += 3) inPlace = runs[r] === runs[r + 1];
  if (inPlace) {
    // Same positions (endpoints changed, none came or left): one copy, then the changes.
    const out = source.slice();
    for (const f of fresh) out[f.at] = freshValue(f);
    return out;
  }
  const pieces = runs.length / 3 + fresh.length;
  if (pieces > 64) {
    const out: T[] = new Array(n);
    for (let r = 0; r < runs.length; r += 3) {
      const at = runs[r]!;
      const from = runs[r + 1]!;
      const len = runs[r + 2]!;
      for (let k = 0; k < len; k++) out[at + k] = source[from + k]!;
    }
    for (const f of fresh) out[f.at] = freshValue(f);
    return out;
  }
  const parts: (T[] | readonly T[])[] = [];
  let r = 0;
  let f = 0;
  while (r < runs.length || f < fresh.length) {
    if (f === fresh.length || (r < runs.length && runs[r]! < fresh[f]!.at)) {
      parts.push(source.slice(runs[r + 1]!, runs[r + 1]! + runs[r + 2]!));
      r += 3;
    } else parts.push([freshValue(fresh[f++]!)]);
  }
  return ([] as T[]).concat(...(parts as T[][]));
}
