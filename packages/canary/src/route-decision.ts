/** What a RouteTable hands out: prepared, immutable objects, built once per rule or membership change. */

/** A route's retry override (`attempts` counts the first try). */
export interface RouteRetry {
  readonly attempts: number | undefined;
  readonly perTryTimeoutMs: number | undefined;
}

/** One route of a table, as status, metrics and the client see it. */
export interface RouteInfo {
  /** The route's `name`, else `routes[<index>]`; `(default)` for the implicit catch-all. */
  readonly name: string;
  /** Position in the document; `routes.length` for the implicit catch-all that ends every table. */
  readonly index: number;
  readonly timeoutMs: number | undefined;
  readonly retry: RouteRetry | undefined;
  /** Destinations in range order (sorted by subset name); subset undefined: all endpoints. */
  readonly destinations: readonly { readonly subset: string | undefined; readonly weight: number }[];
}

/** Where one request goes. Prepared per (route, destination): compare by fields, never mutate. */
export interface RouteDecision {
  readonly route: RouteInfo;
  /**
   * The subset to call; undefined means all endpoints of the service. When `available` is false,
   * the subset that was chosen (for NoHealthyEndpointError).
   */
  readonly subset: string | undefined;
  /** The chosen destination had no endpoints and this one was taken instead. */
  readonly fallback: boolean;
  /** false when no destination of the route has endpoints: the caller raises NoHealthyEndpointError. */
  readonly available: boolean;
}

/** Copy this request, fire and forget, to `subset`. */
export interface MirrorDecision {
  readonly route: RouteInfo;
  readonly subset: string;
  readonly percent: number;
}

/** Inject a fault: wait `delayMs` (0: none), then answer `abortStatus` instead of calling (if set). */
export interface FaultDecision {
  readonly route: RouteInfo;
  readonly delayMs: number;
  readonly abortStatus: number | undefined;
}
