import { type Endpoint, type EndpointDelta, ownValue } from '@meshless/core';
import type { SubsetDefinition } from './routes-schema.ts';

/** Whether an endpoint belongs to a subset. Built once per rule change. */
export type EndpointFilter = (endpoint: Endpoint) => boolean;

/** The filter for one subset: the endpoint has every listed tag and every listed meta pair. */
export function subsetFilter(subset: SubsetDefinition): EndpointFilter {
  const tags = [...(subset.tags ?? [])];
  const meta = Object.entries(subset.meta ?? {});
  if (tags.length === 0 && meta.length === 0) return () => true;
  return (endpoint) => {
    for (const tag of tags) if (!endpoint.tags.includes(tag)) return false;
    for (const [key, value] of meta) if (ownValue(endpoint.meta, key) !== value) return false;
    return true;
  };
}

/** Subset filters by name, from a document's `subsets` (or already compiled). */
export type SubsetFilters = ReadonlyMap<string, EndpointFilter>;

export function subsetFilters(
  subsets: Readonly<Record<string, SubsetDefinition>> | undefined,
): SubsetFilters {
  const filters = new Map<string, EndpointFilter>();
  for (const [name, def] of Object.entries(subsets ?? {})) filters.set(name, subsetFilter(def));
  return filters;
}

/**
 * Splits endpoints by subset, once per membership (or rule) change. An endpoint may be in several
 * subsets when their definitions overlap; every subset gets an entry, empty ones included.
 */
export function partitionBySubset(
  endpoints: readonly Endpoint[],
  subsets: SubsetFilters | Readonly<Record<string, SubsetDefinition>>,
): ReadonlyMap<string, readonly Endpoint[]> {
  const filters =
    subsets instanceof Map
      ? (subsets as SubsetFilters)
      : subsetFilters(subsets as Readonly<Record<string, SubsetDefinition>>);
  const out = new Map<string, readonly Endpoint[]>();
  for (const [name, filter] of filters) out.set(name, Object.freeze(endpoints.filter(filter)));
  return out;
}

/**
 * A subset's list after a membership change, from its list before and the change (both sorted by
 * id): the filter runs on the changed endpoints only, and an unchanged subset keeps its list.
 */
export function patchSubset(
  prev: readonly Endpoint[],
  delta: EndpointDelta,
  filter: EndpointFilter,
): readonly Endpoint[] {
  const { upserts, removed } = delta;
  const adds = upserts.filter(filter);
  const out: Endpoint[] = [];
  let touched = adds.length > 0;
  let u = 0;
  let r = 0;
  let k = 0;
  for (const e of prev) {
    // Changed ids before this one cannot be in prev (both sorted): skip past them.
    while (u < upserts.length && upserts[u]!.id < e.id) u++;
    while (r < removed.length && removed[r]! < e.id) r++;
    while (k < adds.length && adds[k]!.id < e.id) out.push(adds[k++]!);
    if (upserts[u]?.id === e.id || removed[r] === e.id) {
      touched = true; // replaced (its new version is among the adds if it still matches) or gone
      continue;
    }
    out.push(e);
  }
  while (k < adds.length) out.push(adds[k++]!);
  return touched ? Object.freeze(out) : prev;
}

/**
 * The `hasEndpoints` predicate for RouteTable.withAvailability: `undefined` (no subset) stands for
 * all endpoints of the service.
 */
export function hasEndpointsIn(
  endpoints: readonly Endpoint[],
  partition: ReadonlyMap<string, readonly Endpoint[]>,
): (subset: string | undefined) => boolean {
  return (subset) => (subset === undefined ? endpoints.length : (partition.get(subset)?.length ?? 0)) > 0;
}
