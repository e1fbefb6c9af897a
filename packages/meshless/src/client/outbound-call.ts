import type { RouteDecision, RouteRequest } from '@meshless/canary';
import { type CallScope, type ClientCallInfo, noopCallScope } from '@meshless/core';
import type { CallPolicies } from './client-ports.ts';
import type { SendRequest } from './transport.ts';

/**
 * One remote call as it goes through the stages: the request, the route decision, its telemetry
 * scope and what its attempts learned. The one object a call allocates for itself; it is also
 * the route engine's view of the request (RouteRequest) and the observers' (ClientCallInfo).
 */
export class OutboundCall implements RouteRequest, ClientCallInfo {
  decision!: RouteDecision;
  scope: CallScope = noopCallScope;
  /** Clock time the call started (after its body was prepared). */
  started = 0;
  /** The request may be sent more than once (idempotent and a replayable body). */
  retryable = false;
  /** The policies of its operation and route, chosen with the route. */
  policies!: CallPolicies;
  /** The endpoint of the first attempt (a Set is made only if the call goes on). */
  first: string | undefined = undefined;
  tried: Set<string> | undefined = undefined;
  /** What the last failed attempt failed with (`503`, `timeout`, ...), for the retry's telemetry. */
  lastFailure: string | undefined = undefined;
  /** Sends to another endpoint after connect errors so far. */
  failovers = 0;
  /** Milliseconds left of a deadline inherited from the caller (Infinity: none). */
  inheritedMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly path: string,
    readonly headers: Record<string, string>,
    readonly body: SendRequest['body'],
    /** The body can be sent again (not a stream). */
    readonly replayable: boolean,
    readonly caller: string | undefined,
    readonly operation: string | undefined,
    readonly idempotent: boolean,
    readonly hashKey: string | undefined,
    readonly signal: AbortSignal | undefined,
  ) {}

  get route(): string {
    return this.decision.route.name;
  }

  get subset(): string | undefined {
    return this.decision.subset;
  }

  get query(): URLSearchParams | undefined {
    const q = this.path.indexOf('?');
    return q < 0 ? undefined : new URLSearchParams(this.path.slice(q + 1));
  }

  header(name: string): string | undefined {
    // Own properties only, also for a record not made by normalizeHeaders.
    return Object.hasOwn(this.headers, name) ? this.headers[name] : undefined;
  }

  /** The pick context: the hash key, and the endpoints already tried once the call goes on. */
  pickContext(): { hashKey?: string; exclude?: ReadonlySet<string> } | undefined {
    if (this.tried === undefined) return this.hashKey === undefined ? undefined : { hashKey: this.hashKey };
    return { hashKey: this.hashKey, exclude: this.tried } as {
      hashKey?: string;
      exclude?: ReadonlySet<string>;
    };
  }

  /** From now on the call remembers every endpoint it tried. */
  remembering(): Set<string> {
    this.tried ??= new Set(this.first === undefined ? [] : [this.first]);
    return this.tried;
  }
}
