import type { BalancerStack } from '@meshless/balancer';
import type { RouteInfo, RouteTable } from '@meshless/canary';
import type { Endpoint, ExecuteContext, Policy } from '@meshless/core';
import type { AttemptTimeouts } from './attempt-timeouts.ts';
import type { TransportResponse } from './response-handler.ts';
import type { SendRequest } from './transport.ts';

// What the client's stages need from the rest of the mesh. Implemented by client-policies.ts,
// endpoint-groups.ts and transport.ts; consumed by the stage files.

/** A breaker guarding one endpoint, as the client needs it. */
export interface EndpointBreaker {
  readonly state: 'closed' | 'open' | 'half-open';
  /** While open: the clock time it lets a probe through; 0 otherwise. */
  readonly openUntil: number;
  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T>;
}

/** The prepared policies of one call: built on rule change, looked up per call. */
export interface CallPolicies {
  /** Limits and retry/hedge: for calls that may be sent again. */
  readonly full: Policy;
  /** Limits only: for calls that must not be sent twice. */
  readonly once: Policy;
  /** Per-attempt timeouts, applied to each request (undefined: no timeout). */
  readonly timeouts: AttemptTimeouts | undefined;
  /** The timeout in force (route override included), for the deadline header. */
  readonly timeoutMs: number | undefined;
}

/** Where the client gets its policies; rebuilt from rules by the mesh, looked up per call. */
export interface ClientPolicies {
  /** The prepared policies for a call, with the route's own timeout and retry over them. */
  forCall(operation: string | undefined, route?: RouteInfo): CallPolicies;
  /** The breaker for one endpoint, or undefined when no breaker is configured. */
  breaker(endpoint: Endpoint): EndpointBreaker | undefined;
}

/** The endpoints of the service: the route table in force and one balancer per subset. */
export interface EndpointSource {
  readonly table: RouteTable;
  /** The balancer of a subset (undefined: all endpoints). */
  balancer(subset: string | undefined): BalancerStack | undefined;
}

/** Sends one request to one endpoint. */
export interface Sender {
  send(endpoint: Endpoint, req: SendRequest): Promise<TransportResponse>;
}
