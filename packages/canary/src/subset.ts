import { type Endpoint, ownValue } from '@meshless/core';
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
 * The `hasEndpoints` predicate for RouteTable.withAvailability: `undefined` (no subset) stands for
 * all endpoints of the service.
 */
export function hasEndpointsIn(
  endpoints: readonly Endpoint[],
  partition: ReadonlyMap<string, readonly Endpoint[]>,
): (subset: string | undefined) => boolean {
  return (subset) => (subset === undefined ? endpoints.length : (partition.get(subset)?.length ?? 0)) > 0;
}
