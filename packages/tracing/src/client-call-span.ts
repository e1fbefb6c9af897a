import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_MESHLESS_ATTEMPT,
  ATTR_MESHLESS_ATTEMPT_KIND,
  ATTR_MESHLESS_BREAKER_STATE,
  ATTR_MESHLESS_ENDPOINT_ID,
  ATTR_MESHLESS_ROUTE,
  ATTR_MESHLESS_SERVICE,
  ATTR_MESHLESS_SUBSET,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  semconvMethod,
} from './attributes.ts';
import { errorTypeOf } from './error-type.ts';
import { type BreakerState, MeshSpan } from './mesh-span.ts';
import { type Attributes, type Context, type Span, SpanKind, type Tracer } from './otel.ts';

/** The endpoint an attempt goes to; @meshless/core's Endpoint fits. */
export interface EndpointRef {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

export type AttemptKind = 'first' | 'retry' | 'hedge';

/** Client spans fail on 4xx and 5xx (semconv: the client could not get what it asked for). */
function isClientError(status: number | undefined, error: unknown): boolean {
  return (error !== undefined && error !== null) || (status !== undefined && status >= 400);
}

/** One try of a governed call against one endpoint: the span whose context the request carries. */
export class AttemptSpan extends MeshSpan {
  readonly attempt: number;
  readonly endpoint: EndpointRef;
  readonly url: string;
  private readonly call: ClientCallSpan;
  breakerState: BreakerState | undefined;
  status: number | undefined;
  failed = false;

  constructor(
    span: Span,
    parent: Context,
    call: ClientCallSpan,
    attempt: number,
    endpoint: EndpointRef,
    url: string,
    breakerState: BreakerState | undefined,
  ) {
    super(span, parent);
    this.call = call;
    this.attempt = attempt;
    this.endpoint = endpoint;
    this.url = url;
    this.breakerState = breakerState;
  }

  /** The endpoint's breaker state when the attempt went out (if not given at start). */
  setBreakerState(state: BreakerState): void {
    this.breakerState = state;
    this.span.setAttribute(ATTR_MESHLESS_BREAKER_STATE, state);
  }

  /** The attempt's answer (`status`) or failure (`error`, e.g. a connect error or its timeout). */
  end(status?: number, error?: unknown): void {
    if (this.ended) return;
    try {
      if (status !== undefined) this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      this.status = status;
      if (isClientError(status, error)) {
        this.failed = true;
        this.fail(error, error !== undefined && error !== null ? errorTypeOf(error) : String(status));
      }
      this.call.attemptEnded(this);
    } catch {
      // never into user code
    }
    this.finish();
  }
}

/**
 * The CLIENT span of one governed call (`mesh.client('catalog').fetch(...)`), parent of one
 * AttemptSpan per try. On end it takes the endpoint attributes of the attempt that produced the
 * result: the last successful one, else the last one that ended.
 */
export class ClientCallSpan extends MeshSpan {
  readonly method: string;
  readonly service: string;
  readonly path: string;
  private readonly tracer: Tracer;
  private route: string | undefined;
  private subset: string | undefined;
  private attempts = 0;
  private result: AttemptSpan | undefined;

  constructor(span: Span, parent: Context, tracer: Tracer, method: string, service: string, path: string) {
    super(span, parent);
    this.tracer = tracer;
    this.method = method;
    this.service = service;
    this.path = path;
  }

  /** The route rule and subset chosen for the call (once the route table has decided). */
  setRoute(route: string, subset: string | undefined): void {
    this.route = route;
    this.subset = subset;
    try {
      this.span.setAttribute(ATTR_MESHLESS_ROUTE, route);
      if (subset !== undefined) this.span.setAttribute(ATTR_MESHLESS_SUBSET, subset);
    } catch {
      // never into user code
    }
  }

  /** Starts the child span of one attempt; inject its context into that attempt's request. */
  startAttempt(
    attempt: number,
    endpoint: EndpointRef,
    kind?: AttemptKind,
    breakerState?: BreakerState,
  ): AttemptSpan {
    this.attempts = Math.max(this.attempts, attempt);
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    const url = `http://${host}:${endpoint.port}${this.path}`;
    const method = semconvMethod(this.method);
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_SERVER_ADDRESS]: endpoint.address,
      [ATTR_SERVER_PORT]: endpoint.port,
      [ATTR_URL_FULL]: url,
      [ATTR_MESHLESS_SERVICE]: this.service,
      [ATTR_MESHLESS_ENDPOINT_ID]: endpoint.id,
      [ATTR_MESHLESS_ATTEMPT]: attempt,
      [ATTR_MESHLESS_ATTEMPT_KIND]: kind ?? (attempt === 1 ? 'first' : 'retry'),
    };
    if (method !== this.method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = this.method;
    if (attempt > 1) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = attempt - 1;
    if (this.route !== undefined) attributes[ATTR_MESHLESS_ROUTE] = this.route;
    if (this.subset !== undefined) attributes[ATTR_MESHLESS_SUBSET] = this.subset;
    if (breakerState !== undefined) attributes[ATTR_MESHLESS_BREAKER_STATE] = breakerState;
    const parent = this.context;
    const span = this.tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, parent);
    return new AttemptSpan(span, parent, this, attempt, endpoint, url, breakerState);
  }

  /** @internal An attempt ended: remember it if it is the one whose result the call returns. */
  attemptEnded(attempt: AttemptSpan): void {
    if (!attempt.failed || this.result === undefined || this.result.failed) this.result = attempt;
  }

  /** The call's outcome: the response status returned to the caller, or the error thrown. */
  end(status?: number, error?: unknown): void {
    if (this.ended) return;
    try {
      const span = this.span;
      const r = this.result;
      if (r !== undefined) {
        span.setAttribute(ATTR_SERVER_ADDRESS, r.endpoint.address);
        span.setAttribute(ATTR_SERVER_PORT, r.endpoint.port);
        span.setAttribute(ATTR_URL_FULL, r.url);
        span.setAttribute(ATTR_MESHLESS_ENDPOINT_ID, r.endpoint.id);
        if (r.breakerState !== undefined) span.setAttribute(ATTR_MESHLESS_BREAKER_STATE, r.breakerState);
      }
      span.setAttribute(ATTR_MESHLESS_ATTEMPT, this.attempts);
      if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (isClientError(status, error))
        this.fail(error, error !== undefined && error !== null ? errorTypeOf(error) : String(status));
    } catch {
      // never into user code
    }
    this.finish();
  }
}
