import {
  CircuitOpenError,
  type Clock,
  type Endpoint,
  type ExecuteContext,
  NoHealthyEndpointError,
} from '@meshless/core';
import { failureReason, remainingMs } from '@meshless/retry';
import type { ClientPolicies, EndpointBreaker, EndpointSource, Sender } from './client-ports.ts';
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
  readonly policies: ClientPolicies;
  readonly sender: Sender;
  readonly clock: Clock;
}

/**
 * The last stage: one attempt picks an endpoint of the call's subset (a retry or hedge goes
 * elsewhere while another is available; an endpoint whose breaker is open is passed over), runs
 * the request inside that endpoint's breaker under the per-attempt timeout, and feeds the
 * outcome back to the balancer. A connect error fails over to another endpoint at once.
 */
export function attemptStage(d: AttemptStageDeps): AttemptHandler {
  const attemptOn = async (
    call: OutboundCall,
    ctx: ExecuteContext,
    target: Endpoint,
    breaker: EndpointBreaker | undefined,
  ): Promise<Response> => {
    const balancer = d.endpoints.balancer(call.subset)!;
    const kind = ctx.hedge !== undefined ? 'hedge' : ctx.attempt > 1 ? 'retry' : 'first';
    const attemptScope = call.scope.attempt(ctx.attempt, target, kind, breaker?.state);
    attemptScope.inject(call.headers);
    balancer.onCallStart(target);
    const started = d.clock.now();
    try {
      const response = breaker
        ? await breaker.execute((inner) => sendTo(d.sender, call, target, inner.signal, started), ctx.signal)
        : await sendTo(d.sender, call, target, ctx.signal, started);
      balancer.onCallEnd(target, call.outcome(d.clock.now() - started, true, response.status));
      attemptScope.end(response.status, undefined);
      // A 4xx may still be retried (429 with Retry-After, or a status the rule lists).
      if (response.status >= 400) call.lastFailure = String(response.status);
      return response;
    } catch (error) {
      const latencyMs = d.clock.now() - started;
      if (error instanceof ServerErrorResult) {
        balancer.onCallEnd(target, call.outcome(latencyMs, false, error.response.status));
        attemptScope.end(error.response.status, undefined);
        call.lastFailure = String(error.response.status);
        return error.response;
      }
      call.lastFailure = failureReason(error);
      const failure = ctx.signal.aborted ? 'cancelled' : failureOf(error);
      balancer.onCallEnd(target, call.outcome(latencyMs, false, undefined, failure));
      attemptScope.end(undefined, error);
      if (failure === 'connect' && mayFailOver(call, ctx)) return failOver(call, ctx, error);
      throw error;
    }
  };

  /** Picks an endpoint (skipping those whose breaker is open while others remain) and records it. */
  const choose = (call: OutboundCall): Endpoint => {
    const balancer = d.endpoints.balancer(call.subset);
    let endpoint = balancer?.picker.pick(call.pickContext());
    let breaker = endpoint && d.policies.breaker(endpoint);
    while (endpoint && breaker?.state === 'open') {
      call.tried ??= new Set();
      if (call.tried.has(endpoint.id)) break;
      call.tried.add(endpoint.id);
      const next = balancer!.picker.pick(call.pickContext());
      if (!next || call.tried.has(next.id)) break;
      endpoint = next;
      breaker = d.policies.breaker(endpoint);
    }
    if (!endpoint) throw new NoHealthyEndpointError(call.service, call.subset);
    if (call.tried) call.tried.add(endpoint.id);
    else call.first = endpoint.id;
    call.breaker = breaker;
    return endpoint;
  };

  /**
   * A breaker that turns the call away (open, or half-open with its probes busy) costs no
   * attempt: the next endpoint is tried at once, each endpoint at most once.
   */
  const attemptGuarded = async (
    call: OutboundCall,
    ctx: ExecuteContext,
    first: Endpoint,
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
      breaker = call.breaker;
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
    const next = d.endpoints.balancer(call.subset)?.picker.pick(call.pickContext());
    if (next === undefined || tried.has(next.id)) throw error;
    tried.add(next.id);
    call.scope.retry(ctx.attempt, 'connect_error');
    const breaker = d.policies.breaker(next);
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
    let endpoint: Endpoint;
    try {
      endpoint = choose(call);
    } catch (error) {
      return Promise.reject(error);
    }
    const breaker = call.breaker;
    // Without a breaker nothing can turn the call away: no loop, one async frame less.
    return breaker ? attemptGuarded(call, ctx, endpoint, breaker) : attemptOn(call, ctx, endpoint, undefined);
  };
}
