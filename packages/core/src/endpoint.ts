/** One healthy instance of a service, as discovery sees it. Immutable. */
export interface Endpoint {
  /** Unique and stable across membership changes (Consul's service ID, qualified by node). */
  readonly id: string;
  readonly service: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  /** Relative weight, >= 1 (Consul's `Weights.Passing`, or meta `weight`). */
  readonly weight: number;
  readonly zone?: string;
  readonly region?: string;
  readonly datacenter?: string;
  /**
   * The instance registered Connect-native: call it over mutual TLS when this instance has an
   * identity. Absent (never `false`) otherwise, so plain endpoints carry no extra field.
   */
  readonly mtls?: boolean;
}

/** A source of endpoints for one service that pushes changes. */
export interface Resolver {
  /** The endpoints known now (may be empty before the first answer). */
  current(): readonly Endpoint[];
  /** Fires with the full new list whenever membership or metadata really changed; never synchronously. */
  onDidChange(listener: (endpoints: readonly Endpoint[]) => void): import('./disposable.ts').Disposable;
  /** The first answer's endpoints (or a cached or empty fallback when none comes in time); never rejects. */
  ready(): Promise<readonly Endpoint[]>;
  /** What it serves now, for status: at least the datacenter (undefined: the agent's own). */
  stats?(): ResolverStatus;
}

/** The part of a resolver's stats that the client reports. */
export interface ResolverStatus {
  readonly datacenter: string | undefined;
}

/**
 * What changed between two endpoint lists sorted by id: the endpoints that are new or differ
 * (`upserts`, in id order) and the ids that are gone (`removed`, in order).
 */
export interface EndpointDelta {
  readonly upserts: readonly Endpoint[];
  readonly removed: readonly string[];
}

/**
 * One merge walk over two lists sorted by id; `same` decides whether an endpoint of both changed
 * (default: it is the same object). Undefined when either list is not strictly sorted by id: a
 * resolver of one's own need not sort, and then the consumer rebuilds from the whole list. With
 * `prevSorted` (the caller checked `prev` before: it was the `next` of a delta), a run of objects
 * shared by both lists is passed over by reference alone: ids with long common prefixes make each
 * string comparison cost, and at 10 000 endpoints the comparisons were most of a change's cost.
 */
export function endpointDelta(
  prev: readonly Endpoint[],
  next: readonly Endpoint[],
  same: (a: Endpoint, b: Endpoint) => boolean = (a, b) => a === b,
  prevSorted = false,
): EndpointDelta | undefined {
  const upserts: Endpoint[] = [];
  const removed: string[] = [];
  let i = 0;
  let j = 0;
  while (i < prev.length || j < next.length) {
    const a = prev[i];
    const b = next[j];
    // Inside a run of shared objects next's order is prev's, already known to be sorted.
    if (a !== undefined && a === b && prevSorted && i > 0 && j > 0 && prev[i - 1] === next[j - 1]) {
      i++;
      j++;
      continue;
    }
    if (!prevSorted && a !== undefined && i > 0 && !(a.id > prev[i - 1]!.id)) return undefined;
    if (b !== undefined && j > 0 && !(b.id > next[j - 1]!.id)) return undefined;
    if (b === undefined || (a !== undefined && a.id < b.id)) {
      removed.push(a!.id);
      i++;
    } else if (a === undefined || b.id < a.id) {
      upserts.push(b);
      j++;
    } else {
      if (!same(a, b)) upserts.push(b);
      i++;
      j++;
    }
  }
  return { upserts, removed };
}
