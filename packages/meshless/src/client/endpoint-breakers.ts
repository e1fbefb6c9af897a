import type { EndpointHandle } from '@meshless/balancer';
import type { Endpoint } from '@meshless/core';
import type { ClientPolicies, EndpointBreaker } from './client-ports.ts';
import type { EndpointGroups } from './endpoint-groups.ts';

/**
 * Gives every endpoint's handle, in every group, its breaker (none while no breaker rule is in
 * force) and the availability its state says. On membership, routes, balancer or policies
 * change, never per call: a pick then carries its breaker.
 */
export function attachBreakers(
  groups: EndpointGroups,
  policies: Pick<ClientPolicies, 'breaker'>,
  /** Only these (the endpoints a membership change made new); default: all. */
  changed: readonly Endpoint[] = groups.all,
): void {
  for (const balancer of groups.balancers()) {
    for (const endpoint of changed) {
      const handle = balancer.handleOf<EndpointBreaker>(endpoint.id);
      if (!handle) continue;
      handle.breaker = policies.breaker(endpoint);
      markHandle(handle);
    }
  }
}

/** An endpoint's breaker changed state: every group's picker avoids it while it is open. */
export function markBreaker(groups: EndpointGroups, endpointId: string): void {
  for (const balancer of groups.balancers()) {
    const handle = balancer.handleOf<EndpointBreaker>(endpointId);
    if (handle) markHandle(handle);
  }
}

/** An open breaker: avoided until it lets a probe through; otherwise available. */
function markHandle(handle: EndpointHandle<EndpointBreaker>): void {
  const breaker = handle.breaker;
  const until = breaker?.state === 'open' ? breaker.openUntil : 0;
  if (until > 0) handle.markUnavailable(until);
  else handle.markAvailable();
}
