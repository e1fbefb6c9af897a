import { ConsulError, type Endpoint } from '@meshless/core';

/** One datacenter's view, as the failover selection sees it. */
export interface DatacenterView {
  readonly datacenter: string | undefined;
  /** The last answer; undefined before the first. */
  readonly endpoints: readonly Endpoint[] | undefined;
  /** Attempts failed and no answer has come yet. */
  readonly failed: boolean;
}

export type DatacenterSelection =
  | { readonly kind: 'wait' }
  | { readonly kind: 'none' }
  | {
      readonly kind: 'live';
      readonly datacenter: string | undefined;
      readonly endpoints: readonly Endpoint[];
    };

/**
 * Failover: the first datacenter in order with any endpoint. A datacenter that has not answered
 * yet (and has not failed) holds the decision, so a slow primary does not flap traffic to the
 * secondary and back; one that failed without ever answering counts as empty. `none`: nothing
 * answered at all (the local agent is down).
 */
export function selectDatacenter(views: readonly DatacenterView[]): DatacenterSelection {
  let answered = false;
  for (const v of views) {
    if (v.endpoints === undefined) {
      if (!v.failed) return { kind: 'wait' };
      continue;
    }
    answered = true;
    if (v.endpoints.length > 0) return { kind: 'live', datacenter: v.datacenter, endpoints: v.endpoints };
  }
  return answered ? { kind: 'live', datacenter: undefined, endpoints: noEndpoints } : { kind: 'none' };
}

/** Consul's answer for a datacenter it has no route to (unknown name, WAN down). */
export function isNoPathToDatacenter(error: unknown): boolean {
  return error instanceof ConsulError && /no path to datacenter/i.test(error.message);
}

const noEndpoints: readonly Endpoint[] = Object.freeze([]);
