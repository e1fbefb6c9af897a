import type { EndpointHandle } from '@meshless/balancer';
import { CircuitOpenError, type Clock, type ExecuteContext, NoHealthyEndpointError } from '@meshless/core';
import { failureReason, remainingMs } from '@meshless/retry';
import type { EndpointBreaker, EndpointSource, Sender } from './client-ports.ts';
import type { AttemptHandler } from './client-stage.ts';
import { ServerErrorResult, sendTo } from './endpoint-send.ts';
import type { OutboundCall } from './outbound-call.ts';
import { failureOf } from './transport.ts';

/**
 * How many times one call is sent to another endpoint after a connect error (no rule needed:
 * nothing was sent, so any method is safe). Each endpoint is tried at most once.
 */
export const CONNECT_FAILOVERS = 2;

export interface AttemptStageDeps {
  readonly endpoints: EndpointSource;
  readonly sender: Sender;
  readonly clock: Clock;
}

/** A picked endpoint: its prepared handle, carrying its breaker and its own start/end reporting. */
type Handle = EndpointHandle<EndpointBreaker>;

/**
 * The last stage: one attempt picks an endpoint of the call's subset (a retry or hedge goes
 * elsewhere while another is available; the balancer passes over endpoints whose breaker is
 * open), runs the request inside that endpoint's breaker under the per-attempt timeout, and
 * reports start and end through the pick's own handle. A connect error fails over to another endpoint at once.
 */
export function attemptStage(d: AttemptStageDeps): AttemptHandler {
  const attemptOn = async (
    call: OutboundCall,
    ctx: ExecuteContext,
    target: Handle,
    breaker: EndpointBreaker | undefined,
  ): Promise<Response> => {
    const kind = ctx.hedge !== undefined ? 'hedge' : ctx.attempt > 1 ? 'retry' : 'first';
    // Observers and hooks get the Endpoint itself (a plain object), not the handle.
    const attemptScope = call.scope.attempt(ctx.attempt, target.endpoint, kind, breaker?.state);
    attemptScope.inject(call.headers);
    target.started();
    const started = d.clock.now();
    try {
      const response = breaker
        ? await breaker.execute((inner) => sendTo(d.sender, call, target, inner.signal, started), ctx.signal)
        : await sendTo(d.sender, call, target, ctx.signal, started);
      const ended = d.clock.now();
      target.ended(ended - started, true, response.status, undefined, ended);
      attemptScope.end(response.status, undefined);
      // A 4xx may still be retried (429 with Retry-After, or a status the rule lists).
      if (response.status >= 400) call.lastFailure = String(response.status);
      return response;
    } catch (error) {
      const ended = d.clock.now();
      const latencyMs = ended - started;
      if (error instanceof ServerErrorResult) {
        target.ended(latencyMs, false, error.response.status, undefined, ended);
        attemptScope.end(error.response.status, undefined);
        call.lastFailure = String(error.response.status);
        return error.response;
      }
      call.lastFailure = failureReason(error);
      const failure = ctx.signal.aborted ? 'cancelled' : failureOf(error);
      target.ended(latencyMs, false, undefined, failure, ended);
      attemptScope.end(undefined, error);
      if (failure === 'connect' && mayFailOver(call, ctx)) return failOver(call, ctx, error);
      throw error;
    }
  };

  /**
   * Picks an endpoint and records it. The pick is the endpoint's prepared handle, with its
   * breaker attached; endpoints whose breaker is open are avoided by the balancer itself
   * (BreakerAware) while others remain.
   */
  const choose = (call: OutboundCall): Handle => {
    const handle = d.endpoints.balancer(call.subset)?.pickHandle<EndpointBreaker>(call.pickContext());
    if (!handle) throw new NoHealthyEndpointError(call.service, call.subset);
    if (call.tried) call.tried.add(handle.id);
    else call.first = handle.id;
    return handle;
  };

  /**
   * A breaker that turns the call away (open, or half-open with its probes busy) costs no
   * attempt: the next endpoint is tried at once, each endpoint at most once.
   */
  const attemptGuarded = async (
    call: OutboundCall,
    ctx: ExecuteContext,
    first: Handle,
    firstBreaker: EndpointBreaker,
  ): Promise<Response> => {
    let endpoint = first;
    let breaker: EndpointBreaker | undefined = firstBreaker;
    let refused: Set<string> | undefined;
    for (;;) {
      try {
        return await attemptOn(call, ctx, endpoint, breaker);
      } catch (error) {
        if (!(error instanceof CircuitOpenError) || refused?.has(endpoint.id)) throw error;
        refused ??= new Set();
        refused.add(endpoint.id);
        call.tried ??= new Set();
        call.tried.add(endpoint.id);
      }
      endpoint = choose(call);
      breaker = endpoint.breaker;
    }
  };

  /** Another send after a connect error: within the bound, the body replayable, the caller still waiting. */
  const mayFailOver = (call: OutboundCall, ctx: ExecuteContext): boolean =>
    call.failovers < CONNECT_FAILOVERS && call.replayable && !ctx.signal.aborted && remainingMs(d.clock) > 0;

  /**
   * The request never left (the connection failed), so it goes to an endpoint not tried yet, at
   * once and within the same attempt: a dead instance costs the call a millisecond, not an
   * error. Without another endpoint, the connect error stands.
   */
  const failOver = async (call: OutboundCall, ctx: ExecuteContext, error: unknown): Promise<Response> => {
    call.failovers++;
    const tried = call.remembering();
    const next = d.endpoints.balancer(call.subset)?.pickHandle<EndpointBreaker>(call.pickContext());
    if (next === undefined || tried.has(next.id)) throw error;
    tried.add(next.id);
    call.scope.retry(ctx.attempt, 'connect_error');
    const breaker = next.breaker;
    try {
      return await (breaker
        ? attemptGuarded(call, ctx, next, breaker)
        : attemptOn(call, ctx, next, undefined));
    } catch (later) {
      // Every other endpoint's breaker turned the call away: the connect error is the news.
      throw later instanceof CircuitOpenError ? error : later;
    }
  };

  return (call, ctx) => {
    if (ctx.attempt > 1) {
      // A retry or hedge goes elsewhere while another endpoint is available.
      call.remembering();
      if (ctx.hedge !== undefined) call.scope.hedge(ctx.attempt, ctx.hedge);
      else call.scope.retry(ctx.attempt, call.lastFailure ?? 'error');
    }
    let endpoint: Handle;
    try {
      endpoint = choose(call);
    } catch (error) {
      return Promise.reject(error);
    }
    const breaker = endpoint.breaker;
    // Without a breaker nothing can turn the call away: no loop, one async frame less.
    return breaker ? attemptGuarded(call, ctx, endpoint, breaker) : attemptOn(call, ctx, endpoint, undefined);
  };
}
