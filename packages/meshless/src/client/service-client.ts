import type { FaultDecision, RouteDecision, RouteInfo } from '@meshless/canary';
import {
  type CallFailure,
  type CallOutcome,
  CircuitOpenError,
  type Clock,
  type Endpoint,
  type ExecuteContext,
  firstAttempt,
  type Logger,
  NoHealthyEndpointError,
  neverAborted,
  noopPolicy,
  type Policy,
  type Random,
  sleep,
} from '@meshless/core';
import { type MeshMetrics, type OutcomeRecorder, outcomeOf } from '@meshless/metrics';
import {
  DEADLINE_HEADER,
  DeadlinePolicy,
  failureReason,
  formatDeadlineHeader,
  remainingMs,
} from '@meshless/retry';
import type { ClientCallSpan, MeshTracer } from '@meshless/tracing';
import type { Dispatcher } from 'undici';
import type { AttemptTimeouts } from './attempt-timeouts.ts';
import type { EndpointGroups } from './endpoint-groups.ts';
import { MeshResponse } from './mesh-response.ts';
import {
  type HeadersInit,
  isReplayable,
  normalizeHeaders,
  OutgoingRequestView,
  pathOf,
  prepareBody,
} from './request-view.ts';
import { failureOf, originOf, type Transport, toTransportError } from './transport.ts';

/** `fetch` options: the WHATWG ones meshless uses, plus governance hints. */
export interface MeshRequestInit {
  method?: string;
  headers?: HeadersInit;
  body?:
    | string
    | Uint8Array
    | ArrayBuffer
    | ArrayBufferView
    | URLSearchParams
    | Blob
    | FormData
    | ReadableStream
    | NodeJS.ReadableStream
    | null;
  signal?: AbortSignal;
  /** Operation name for `methods.<name>` policy overrides (e.g. `getItem`). */
  operation?: string;
  /** Declares a non-idempotent method (POST, PATCH) safe to retry and hedge. */
  idempotent?: boolean;
  /** Hash key for ring-hash/Maglev when the balancer rule's `hashOn` does not apply. */
  hashKey?: string;
}

// One outcome object for every report: balancers read it synchronously and keep nothing of it.
const scratch: {
  latencyMs: number;
  ok: boolean;
  status: number | undefined;
  failure: CallFailure | undefined;
} = {
  latencyMs: 0,
  ok: true,
  status: undefined,
  failure: undefined,
};
function outcome(
  latencyMs: number,
  ok: boolean,
  status: number | undefined,
  failure?: CallFailure,
): CallOutcome {
  scratch.latencyMs = latencyMs;
  scratch.ok = ok;
  scratch.status = status;
  scratch.failure = failure;
  return scratch;
}

/**
 * How many times one call is sent to another endpoint after a connect error (no rule needed:
 * nothing was sent, so any method is safe). Each endpoint is tried at most once.
 */
export const CONNECT_FAILOVERS = 2;

/** A breaker guarding one endpoint, as the client needs it. */
export interface EndpointBreaker {
  readonly state: 'closed' | 'open' | 'half-open';
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
}

/** Where the client gets its policies; rebuilt from rules by the mesh, looked up per call. */
export interface ClientPolicies {
  /** The prepared policies for a call, with the route's own timeout and retry over them. */
  forCall(operation: string | undefined, route?: RouteInfo): CallPolicies;
  /** The breaker for one endpoint, or undefined when no breaker is configured. */
  breaker(endpoint: Endpoint): EndpointBreaker | undefined;
  /** The overall timeout in force for a call, for the deadline header. */
  timeoutMs(operation: string | undefined): number | undefined;
}

export interface ServiceClientOptions {
  service: string;
  /** This instance's service name, sent as `x-meshless-caller` and matched by `match.caller`. */
  caller: string | undefined;
  groups: EndpointGroups;
  policies: ClientPolicies;
  transport: Transport;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Reads the hash key of a request for ring-hash/Maglev (from the balancer rule's hashOn). */
  hashKey: (headers: Record<string, string>, path: string) => string | undefined;
  observer?: ClientObserver;
  /** Spans per call and per attempt (nothing at all while no tracer provider is registered). */
  tracer?: MeshTracer;
  /** Prepared metric handles per (service, method, subset). */
  metrics?: MeshMetrics;
}

/** Extra hooks (tests, custom telemetry); every method optional and cheap. */
export interface ClientObserver {
  onAttempt?(service: string, endpoint: Endpoint, attempt: number): void;
  onResult?(
    service: string,
    decision: RouteDecision,
    status: number | undefined,
    error: unknown,
    seconds: number,
  ): void;
  onMirror?(service: string, subset: string, ok: boolean): void;
}

export const CALLER_HEADER = 'x-meshless-caller';
export const FAULT_HEADER = 'x-meshless-fault';

/** An endpoint answered with a 5xx: a failure for breaker and balancer, a result for retry. */
class ServerErrorResult extends Error {
  constructor(readonly response: Response) {
    super(`HTTP ${response.status}`);
  }
}

/**
 * The governed client for one service: route -> subset -> balancer -> breaker -> undici, inside
 * the policy stack; outcomes feed the balancer (latency, errors, outlier ejection) and breakers.
 */
export class ServiceClient {
  readonly service: string;
  /** Calls started and not yet answered (for draining). */
  inFlight = 0;
  private readonly recorders = new WeakMap<RouteDecision, Map<string, OutcomeRecorder>>();
  private readonly o: ServiceClientOptions;
  /** Enforces a deadline inherited from the caller (no own deadline). */
  private readonly deadline: DeadlinePolicy;

  constructor(options: ServiceClientOptions) {
    this.o = options;
    this.service = options.service;
    this.deadline = new DeadlinePolicy({ resource: options.service, clock: options.clock });
  }

  async fetch(target: string | URL, init: MeshRequestInit = {}): Promise<Response> {
    const path = typeof target === 'string' && target.startsWith('/') ? target : pathOf(target);
    const o = this.o;
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = normalizeHeaders(init.headers);
    // Before routing, so a route can match the content-type fetch would send.
    const sendable = prepareBody(init.body, headers);
    const body = sendable instanceof Promise ? await sendable : sendable;
    const view = new OutgoingRequestView(method, path, headers, o.caller);
    const table = o.groups.table;
    const decision = table.route(view, o.random);
    const span = o.tracer?.startClientCall(method, this.service, path);
    span?.setRoute(decision.route.name, decision.subset);
    const started = o.clock.now();
    if (!decision.available) {
      const error = new NoHealthyEndpointError(this.service, decision.subset);
      this.record(span, decision, init.operation ?? method, undefined, error, started);
      throw error;
    }

    const fault = table.fault(decision.route, o.random);
    if (fault) {
      const injected = await this.injectFault(fault, init.signal);
      if (injected) {
        span?.rejected('fault injection: abort', 'rejected');
        this.record(span, decision, init.operation ?? method, injected.status, undefined, started);
        return injected;
      }
    }
    const replayable = isReplayable(body);
    const mirror = replayable ? table.shouldMirror(decision.route, o.random) : undefined;
    if (mirror) this.mirror(mirror.subset, method, path, headers, body);

    if (o.caller) headers[CALLER_HEADER] = o.caller;
    const timeoutMs = decision.route.timeoutMs ?? o.policies.timeoutMs(init.operation);
    // A deadline inherited from the caller (set by the server middleware or runWithDeadline).
    const inherited = remainingMs(o.clock);
    const remaining = Math.min(inherited, timeoutMs ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(remaining)) headers[DEADLINE_HEADER] = this.deadlineHeader(remaining);

    const retryable = replayable && (init.idempotent === true || isIdempotent(method));
    const prepared = o.policies.forCall(init.operation, decision.route);
    const policy = retryable ? prepared.full : prepared.once;
    this.inFlight++;
    const call = new Call(
      this.o,
      decision,
      method,
      path,
      headers,
      body,
      init.hashKey ?? o.hashKey(headers, path),
      span,
      prepared.timeouts,
      replayable,
    );
    try {
      const signal = init.signal ?? undefined;
      // Under an inherited deadline the whole call (retries included) ends with it: the attempt
      // in flight is aborted and the call fails with DeadlineExceededError. Otherwise no cost.
      const response = Number.isFinite(inherited)
        ? await this.deadline.execute((ctx) => runCall(call, policy, ctx.signal), signal)
        : await runCall(call, policy, signal);
      this.record(span, decision, init.operation ?? method, response.status, undefined, started);
      return response;
    } catch (error) {
      this.record(span, decision, init.operation ?? method, undefined, error, started);
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  // The header value of the last deadline sent: the same timeout each call, so one string.
  private lastDeadlineMs = Number.NaN;
  private lastDeadlineHeader = '';

  private deadlineHeader(ms: number): string {
    if (ms !== this.lastDeadlineMs) {
      this.lastDeadlineMs = ms;
      this.lastDeadlineHeader = formatDeadlineHeader(ms);
    }
    return this.lastDeadlineHeader;
  }

  /** The prepared metric series of (route decision, method): found by object identity, no key string per call. */
  private recorder(decision: RouteDecision, method: string): OutcomeRecorder {
    let byMethod = this.recorders.get(decision);
    if (!byMethod) {
      byMethod = new Map();
      this.recorders.set(decision, byMethod);
    }
    let recorder = byMethod.get(method);
    if (!recorder) {
      recorder = this.o.metrics!.clientCall(this.service, method, decision.subset ?? 'all');
      byMethod.set(method, recorder);
    }
    return recorder;
  }

  private record(
    span: ClientCallSpan | undefined,
    decision: RouteDecision,
    method: string,
    status: number | undefined,
    error: unknown,
    started: number,
  ): void {
    const o = this.o;
    const seconds = (o.clock.now() - started) / 1000;
    span?.end(status, error);
    if (o.metrics) this.recorder(decision, method).record(outcomeOf(error, status), seconds);
    o.observer?.onResult?.(this.service, decision, status, error, seconds);
  }

  private async injectFault(
    fault: FaultDecision,
    signal: AbortSignal | undefined,
  ): Promise<Response | undefined> {
    if (fault.delayMs > 0) await sleep(fault.delayMs, signal, this.o.clock);
    if (fault.abortStatus === undefined) return undefined;
    return new Response(null, { status: fault.abortStatus, headers: { [FAULT_HEADER]: 'abort' } });
  }

  /** Fire and forget: a copy to the shadow subset; its result and errors never reach the caller. */
  private mirror(
    subset: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: MeshRequestInit['body'],
  ): void {
    const o = this.o;
    const endpoint = o.groups.balancer(subset)?.picker.pick();
    if (!endpoint) return;
    o.transport
      .send(endpoint, {
        method,
        path,
        headers: { ...headers, 'x-meshless-mirror': '1' },
        body: body as Dispatcher.DispatchOptions['body'],
        discardBody: true,
      })
      .then(
        (res) => o.observer?.onMirror?.(this.service, subset, res.status < 500),
        () => o.observer?.onMirror?.(this.service, subset, false),
      );
  }
}

/** The call through its policies; with none in force (no rules), without the policy machinery. */
function runCall(call: Call, policy: Policy, signal: AbortSignal | undefined): Promise<Response> {
  if (policy === noopPolicy) return call.attempt(signal ? { signal, attempt: 1 } : firstAttempt);
  return policy.execute((ctx) => call.attempt(ctx), signal);
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** The state of one call across its attempts: which endpoints were tried. */
class Call {
  private tried: Set<string> | undefined;
  /** The endpoint of the first attempt (a Set is made only if the call goes on). */
  private first: string | undefined;
  /** What the last failed attempt failed with (`503`, `timeout`, ...), for the retry's span event and metric. */
  private lastFailure: string | undefined;
  /** Sends to another endpoint after connect errors so far (see CONNECT_FAILOVERS). */
  private failovers = 0;

  constructor(
    private readonly o: ServiceClientOptions,
    private readonly decision: RouteDecision,
    private readonly method: string,
    private readonly path: string,
    private readonly headers: Record<string, string>,
    private readonly body: MeshRequestInit['body'],
    private readonly hashKey: string | undefined,
    private readonly span: ClientCallSpan | undefined,
    private readonly timeouts: AttemptTimeouts | undefined,
    /** The body can be sent again (not a stream). */
    private readonly replayable: boolean,
  ) {}

  attempt(ctx: ExecuteContext): Promise<Response> {
    const o = this.o;
    if (ctx.attempt > 1) {
      // A retry or hedge goes elsewhere while another endpoint is available.
      if (this.tried === undefined) this.tried = new Set(this.first === undefined ? [] : [this.first]);
      if (ctx.hedge !== undefined) {
        this.span?.hedge(ctx.attempt, ctx.hedge);
        o.metrics?.service(o.service).hedge(ctx.hedge);
      } else {
        const reason = this.lastFailure ?? 'error';
        this.span?.retry(ctx.attempt, 0, reason);
        o.metrics?.service(o.service).retry(reason);
      }
    }
    const endpoint = this.choose();
    const breaker = this.breaker;
    // Without a breaker nothing can turn the call away: no loop, one async frame less.
    return breaker ? this.attemptGuarded(ctx, endpoint, breaker) : this.attemptOn(ctx, endpoint, undefined);
  }

  /**
   * A breaker that turns the call away (open, or half-open with its probes busy) costs no
   * attempt: the next endpoint is tried at once, each endpoint at most once.
   */
  private async attemptGuarded(
    ctx: ExecuteContext,
    first: Endpoint,
    firstBreaker: EndpointBreaker,
  ): Promise<Response> {
    let endpoint = first;
    let breaker: EndpointBreaker | undefined = firstBreaker;
    let refused: Set<string> | undefined;
    for (;;) {
      try {
        return await this.attemptOn(ctx, endpoint, breaker);
      } catch (error) {
        if (!(error instanceof CircuitOpenError) || refused?.has(endpoint.id)) throw error;
        refused ??= new Set();
        refused.add(endpoint.id);
        this.tried ??= new Set();
        this.tried.add(endpoint.id);
      }
      endpoint = this.choose();
      breaker = this.breaker;
    }
  }

  /** The breaker of the endpoint `choose()` returned last. */
  private breaker: EndpointBreaker | undefined;

  /** Picks an endpoint (skipping those whose breaker is open while others remain) and records it. */
  private choose(): Endpoint {
    const o = this.o;
    const subset = this.decision.subset;
    const balancer = o.groups.balancer(subset);
    let endpoint = balancer?.picker.pick(this.pickContext());
    let breaker = endpoint && o.policies.breaker(endpoint);
    while (endpoint && breaker?.state === 'open') {
      this.tried ??= new Set();
      if (this.tried.has(endpoint.id)) break;
      this.tried.add(endpoint.id);
      const next = balancer!.picker.pick(this.pickContext());
      if (!next || this.tried.has(next.id)) break;
      endpoint = next;
      breaker = o.policies.breaker(endpoint);
    }
    if (!endpoint) throw new NoHealthyEndpointError(o.service, subset);
    if (this.tried) this.tried.add(endpoint.id);
    else this.first = endpoint.id;
    this.breaker = breaker;
    return endpoint;
  }

  private async attemptOn(
    ctx: ExecuteContext,
    target: Endpoint,
    breaker: EndpointBreaker | undefined,
  ): Promise<Response> {
    const o = this.o;
    const balancer = o.groups.balancer(this.decision.subset)!;
    o.observer?.onAttempt?.(o.service, target, ctx.attempt);
    const attemptSpan = this.span?.startAttempt(
      ctx.attempt,
      target,
      ctx.hedge !== undefined ? 'hedge' : undefined,
      breaker?.state,
    );
    attemptSpan?.inject(this.headers);
    balancer.onCallStart(target);
    const started = o.clock.now();
    try {
      const response = breaker
        ? await breaker.execute((inner) => this.send(target, inner.signal, started), ctx.signal)
        : await this.send(target, ctx.signal, started);
      balancer.onCallEnd(target, outcome(o.clock.now() - started, true, response.status));
      attemptSpan?.end(response.status);
      // A 4xx may still be retried (429 with Retry-After, or a status the rule lists).
      if (response.status >= 400) this.lastFailure = String(response.status);
      return response;
    } catch (error) {
      const latencyMs = o.clock.now() - started;
      if (error instanceof ServerErrorResult) {
        balancer.onCallEnd(target, outcome(latencyMs, false, error.response.status));
        attemptSpan?.end(error.response.status);
        this.lastFailure = String(error.response.status);
        return error.response;
      }
      this.lastFailure = failureReason(error);
      const failure = ctx.signal.aborted ? 'cancelled' : failureOf(error);
      balancer.onCallEnd(target, outcome(latencyMs, false, undefined, failure));
      attemptSpan?.end(undefined, error);
      if (failure === 'connect' && this.mayFailOver(ctx)) return this.failOver(ctx, error);
      throw error;
    }
  }

  /** Another send after a connect error: within the bound, the body replayable, the caller still waiting. */
  private mayFailOver(ctx: ExecuteContext): boolean {
    return (
      this.failovers < CONNECT_FAILOVERS &&
      this.replayable &&
      !ctx.signal.aborted &&
      remainingMs(this.o.clock) > 0
    );
  }

  /**
   * The request never left (the connection failed), so it goes to an endpoint not tried yet, at
   * once and within the same attempt: a dead instance costs the call a millisecond, not an
   * error. Without another endpoint, the connect error stands.
   */
  private async failOver(ctx: ExecuteContext, error: unknown): Promise<Response> {
    const o = this.o;
    this.failovers++;
    this.tried ??= new Set(this.first === undefined ? [] : [this.first]);
    const next = o.groups.balancer(this.decision.subset)?.picker.pick(this.pickContext());
    if (next === undefined || this.tried.has(next.id)) throw error;
    this.tried.add(next.id);
    this.span?.retry(ctx.attempt, 0, 'connect_error');
    o.metrics?.service(o.service).retry('connect_error');
    const breaker = o.policies.breaker(next);
    try {
      return await (breaker ? this.attemptGuarded(ctx, next, breaker) : this.attemptOn(ctx, next, undefined));
    } catch (later) {
      // Every other endpoint's breaker turned the call away: the connect error is the news.
      throw later instanceof CircuitOpenError ? error : later;
    }
  }

  private async send(target: Endpoint, signal: AbortSignal, started: number): Promise<Response> {
    // The attempt's timeout and a live caller or hedge signal abort the request through its
    // handler: no AbortController and no listener per call on the common path.
    const timed = this.timeouts?.start(started);
    try {
      const res = await this.o.transport.send(target, {
        method: this.method,
        path: this.path,
        headers: this.headers,
        body: this.body as Dispatcher.DispatchOptions['body'],
        signal: signal === neverAborted ? undefined : signal,
        timed,
      });
      const response = new MeshResponse(
        res.status,
        res.statusText,
        res.headers,
        res.body,
        originOf(target),
        this.path,
      );
      // A 5xx arrives buffered, so a retry can drop it and its connection is already free.
      if (res.status >= 500) throw new ServerErrorResult(response);
      return response;
    } catch (error) {
      // Results and aborts (the caller's reason, a meshless timeout) pass as they are.
      if (error instanceof ServerErrorResult || signal.aborted) throw error;
      throw toTransportError(error, target, this.o.service);
    } finally {
      // A streamed body is not bounded by the attempt timeout once the headers are in.
      if (timed) this.timeouts!.end(timed);
    }
  }

  private pickContext() {
    if (this.tried === undefined) return this.hashKey === undefined ? undefined : { hashKey: this.hashKey };
    return { hashKey: this.hashKey, exclude: this.tried };
  }
}
