import type { FaultDecision } from '@meshless/canary';
import {
  type CallObserver,
  type Clock,
  FAULT_HEADER,
  MIRROR_HEADER,
  NoHealthyEndpointError,
  type Random,
  sleep,
} from '@meshless/core';
import type { ClientPolicies, EndpointSource, Sender } from './client-ports.ts';
import type { Stage } from './client-stage.ts';
import type { OutboundCall } from './outbound-call.ts';

export interface RouteStageDeps {
  readonly endpoints: EndpointSource;
  readonly policies: ClientPolicies;
  readonly sender: Sender;
  readonly observer: CallObserver;
  readonly clock: Clock;
  readonly random: Random;
}

/**
 * The first stage: the route table decides where the call goes (route, subset, and so the
 * policies of its operation and route), the call's
 * telemetry scope opens, a fault rule may delay or answer it, a mirror rule may copy it; the
 * scope ends with whatever the rest of the chain returns or throws.
 */
export function routeStage(d: RouteStageDeps): Stage {
  return (next) => async (call) => {
    const table = d.endpoints.table;
    const decision = table.route(call, d.random);
    call.decision = decision;
    call.policies = d.policies.forCall(call.operation, decision.route);
    const scope = d.observer.client(call);
    call.scope = scope;
    if (!decision.available) {
      const error = new NoHealthyEndpointError(call.service, decision.subset);
      scope.end(undefined, error, seconds(d.clock, call.started));
      throw error;
    }
    const fault = table.fault(decision.route, d.random);
    if (fault) {
      const injected = await injectFault(d.clock, fault, call.signal);
      if (injected) {
        scope.rejected('fault injection: abort', 'rejected');
        scope.end(injected.status, undefined, seconds(d.clock, call.started));
        return injected;
      }
    }
    const mirror = call.replayable ? table.shouldMirror(decision.route, d.random) : undefined;
    if (mirror) sendMirror(d, call, mirror.subset);
    try {
      const response = await next(call);
      scope.end(response.status, undefined, seconds(d.clock, call.started));
      return response;
    } catch (error) {
      scope.end(undefined, error, seconds(d.clock, call.started));
      throw error;
    }
  };
}

function seconds(clock: Clock, started: number): number {
  return (clock.now() - started) / 1000;
}

async function injectFault(
  clock: Clock,
  fault: FaultDecision,
  signal: AbortSignal | undefined,
): Promise<Response | undefined> {
  if (fault.delayMs > 0) await sleep(fault.delayMs, signal, clock);
  if (fault.abortStatus === undefined) return undefined;
  return new Response(null, { status: fault.abortStatus, headers: { [FAULT_HEADER]: 'abort' } });
}

/** Fire and forget: a copy to the shadow subset; its result and errors never reach the caller. */
function sendMirror(d: RouteStageDeps, call: OutboundCall, subset: string): void {
  const endpoint = d.endpoints.balancer(subset)?.picker.pick();
  if (!endpoint) return;
  const scope = call.scope;
  d.sender
    .send(endpoint, {
      method: call.method,
      path: call.path,
      headers: { ...call.headers, [MIRROR_HEADER]: '1' },
      body: call.body,
      discardBody: true,
    })
    .then(
      (res) => scope.mirrored(subset, res.status < 500),
      () => scope.mirrored(subset, false),
    );
}
