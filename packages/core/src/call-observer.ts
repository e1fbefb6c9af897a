import type { Endpoint } from './endpoint.ts';

/**
 * The one telemetry seam. Every governed call (a remote call by the client, an inbound request,
 * a decorated method) opens one scope; tracing, metrics and the user's observer each implement
 * CallObserver, and createMesh combines them once (`combineObservers`). A scope that observes
 * nothing is `noopCallScope`; with no observer at all the call sees only that constant.
 *
 * Implementations never throw into the call: a telemetry failure is the observer's to swallow.
 */
export interface CallObserver {
  /**
   * A remote call, after routing. `call` is the client's own per-call object (read its fields
   * now; keep nothing of it after `end`), so opening a scope allocates nothing.
   */
  client(call: ClientCallInfo): CallScope;
  /** An inbound request to this service; `headers` carry the caller's trace context. */
  server(service: string, method: string, url: string | undefined, headers: InboundHeaders): CallScope;
  /** One call of a decorated method or resource. */
  governed(resource: string): CallScope;
}

/** What a client call is, as observers see it when its scope opens. */
export interface ClientCallInfo {
  /** The callee. */
  readonly service: string;
  /** The HTTP method, upper case. */
  readonly method: string;
  /** `init.operation` when the caller named one (metrics label it so), else undefined. */
  readonly operation: string | undefined;
  /** Path and query. */
  readonly path: string;
  /** The name of the route that matched (`default` when no routes rule). */
  readonly route: string;
  /** The subset the route chose; undefined: all endpoints. */
  readonly subset: string | undefined;
}

/** Request headers as node:http gives them (lower-case names). */
export type InboundHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type AttemptKind = 'first' | 'retry' | 'hedge';

/** One call, from start to end. */
export interface CallScope {
  /** Runs `fn` inside this call's context (a span's), so work it starts is attributed to the call. */
  run<T>(fn: () => T): T;
  /** An attempt goes to `endpoint` (client calls). `breakerState` when the endpoint has a breaker. */
  attempt(attempt: number, endpoint: Endpoint, kind: AttemptKind, breakerState?: string): AttemptScope;
  /** A retry is about to be sent (`reason`: `503`, `timeout`, `connect_error`, ...). */
  retry(attempt: number, reason: string): void;
  /** A hedge is about to be sent: its delay passed (`delay`) or every running attempt failed (`failure`). */
  hedge(attempt: number, reason: 'delay' | 'failure'): void;
  /** The call was turned away before it ran (`rate_limited`, `fault_abort`, `concurrency`, ...). */
  rejected(reason: string, action: 'rejected' | 'shed'): void;
  /** A mirrored copy of the call to `subset` finished (`ok`: answered below 500); may come after `end`. */
  mirrored(subset: string, ok: boolean): void;
  /** The call ended: with an HTTP status, or an error, after `seconds`. */
  end(status: number | undefined, error: unknown, seconds: number): void;
}

/** One attempt of a client call. */
export interface AttemptScope {
  /** Writes the attempt's trace context into the outgoing headers. */
  inject(headers: Record<string, string>): void;
  end(status: number | undefined, error: unknown): void;
}

export const noopAttemptScope: AttemptScope = Object.freeze({
  inject() {},
  end() {},
});

export const noopCallScope: CallScope = Object.freeze({
  run: <T>(fn: () => T): T => fn(),
  attempt: () => noopAttemptScope,
  retry() {},
  hedge() {},
  rejected() {},
  mirrored() {},
  end() {},
});

export const noopCallObserver: CallObserver = Object.freeze({
  client: () => noopCallScope,
  server: () => noopCallScope,
  governed: () => noopCallScope,
});
