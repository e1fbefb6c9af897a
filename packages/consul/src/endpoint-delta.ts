import { type Endpoint, type EndpointDelta, endpointDelta } from '@meshless/core';
import { type EndpointInterner, makeEndpoint, sameEndpoint } from './health-parse.ts';

/** One merge walk over two lists sorted by id (as parsed answers are), comparing by value. */
export function diffEndpoints(prev: readonly Endpoint[], next: readonly Endpoint[]): EndpointDelta {
  // Parsed and revived lists are sorted by id; an unsorted one would be a bug here, so say so.
  const delta = endpointDelta(prev, next, sameEndpoint);
  if (delta === undefined) throw new Error('endpoint lists must be sorted by id');
  return delta;
}

/**
 * `prev` with `delta` applied, as a new frozen list sorted by id. Unchanged endpoints keep their
 * identity (consumers compare by reference first); upserts are rebuilt through `revive`, since
 * they crossed a thread boundary as plain data. Each change is placed by binary search, and the
 * runs between changes are copied by reference: no id comparison per unchanged endpoint.
 */
export function applyEndpointDelta(
  prev: readonly Endpoint[],
  delta: EndpointDelta,
  revive: (e: Endpoint) => Endpoint,
): readonly Endpoint[] {
  const { upserts, removed } = delta;
  if (upserts.length === 0 && removed.length === 0) return prev;
  const out: Endpoint[] = [];
  let i = 0;
  let u = 0;
  let r = 0;
  while (u < upserts.length || r < removed.length) {
    const up = upserts[u];
    const rm = removed[r];
    const id = up !== undefined && (rm === undefined || up.id <= rm) ? up.id : rm!;
    const at = lowerBound(prev, id, i);
    for (let k = i; k < at; k++) out.push(prev[k]!);
    i = at;
    if (prev[i]?.id === id) i++; // replaced or removed
    if (up?.id === id) {
      out.push(revive(up));
      u++;
    }
    if (rm === id) r++;
  }
  for (let k = i; k < prev.length; k++) out.push(prev[k]!);
  return Object.freeze(out);
}

/** The first index at or after `from` whose id is not below `id` (the list is sorted by id). */
function lowerBound(list: readonly Endpoint[], id: string, from: number): number {
  let lo = from;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Rebuilds an endpoint that arrived as plain data (a structured clone has Object.prototype on its
 * meta, and nothing is frozen), sharing tags and meta through `pool`. Fields are re-checked: the
 * worker is ours, but a revived endpoint must be as safe as a parsed one.
 */
export function reviveEndpoint(e: Endpoint, pool: EndpointInterner): Endpoint {
  return makeEndpoint({
    id: String(e.id),
    service: String(e.service),
    address: String(e.address),
    port: Number(e.port),
    tags: pool.tags(Array.isArray(e.tags) ? e.tags : undefined),
    meta: pool.meta(typeof e.meta === 'object' && e.meta !== null ? e.meta : undefined),
    weight: Number(e.weight),
    zone: typeof e.zone === 'string' ? e.zone : undefined,
    region: typeof e.region === 'string' ? e.region : undefined,
    datacenter: typeof e.datacenter === 'string' ? e.datacenter : undefined,
    mtls: e.mtls === true,
  });
}

/**
 * A whole list from another thread, reconciled against `prev`: equal endpoints keep their old
 * identity, so a consumer sees what changed. For a watch's first answer from a worker.
 */
export function reconcileEndpoints(
  prev: readonly Endpoint[],
  next: readonly Endpoint[],
  pool: EndpointInterner,
): readonly Endpoint[] {
  const revived = next.map((e) => reviveEndpoint(e, pool));
  revived.sort(byId);
  return applyEndpointDelta(prev, diffEndpoints(prev, revived), (e) => e);
}

function byId(a: Endpoint, b: Endpoint): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
