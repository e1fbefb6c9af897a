// Shared by the client's stage tests (not exported from the package): the client's real pure
// parts (endpoint groups, service policies, breakers) on a manual clock and an in-memory KV
// prefix, with a scripted sender and a recording observer in place of HTTP and telemetry.
import { BreakerRegistry } from '@meshless/breaker';
import { routesSection } from '@meshless/canary';
import {
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  type Endpoint,
  noopCallScope,
  RuleStore,
} from '@meshless/core';
import { endpoint, FakeResolver, FakeRuleSource, ManualClock, seededRandom } from '@meshless/core/testing';
import type { PropagatedHeaders } from '../propagation/propagated-headers.ts';
import { builtinSections } from '../rules/index.ts';
import { ServicePolicies } from './client-policies.ts';
import type { Sender } from './client-ports.ts';
import { attachBreakers, markBreaker } from './endpoint-breakers.ts';
import { EndpointGroups } from './endpoint-groups.ts';
import { MeshClient } from './mesh-client.ts';
import { OutboundCall } from './outbound-call.ts';
import type { TransportResponse } from './response-handler.ts';
import type { SendRequest } from './transport.ts';

export type Script = (endpoint: Endpoint, req: SendRequest) => TransportResponse | Error;

/** A sender that answers from a script and remembers every request (endpoint id, method, headers). */
export class ScriptedSender implements Sender {
  readonly sent: { endpoint: string; req: SendRequest }[] = [];
  constructor(public script: Script = () => answer(200)) {}
  send(endpoint: Endpoint, req: SendRequest): Promise<TransportResponse> {
    this.sent.push({ endpoint: endpoint.id, req });
    const out = this.script(endpoint, req);
    return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
  }
}

export function answer(status: number): TransportResponse {
  return { status, statusText: undefined, headers: {}, body: status >= 500 ? new Uint8Array() : null };
}

/** A connection refused, as undici reports it. */
export function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
}

/** Records what the client tells its observers, in order. */
export class RecordingObserver implements CallObserver {
  readonly events: string[] = [];
  client(call: ClientCallInfo): CallScope {
    const log = this.events;
    log.push(`call ${call.method} ${call.path} route=${call.route} subset=${call.subset ?? 'all'}`);
    const attemptScope = (n: number): AttemptScope => ({
      inject: () => {},
      end: (status, error) => log.push(`attempt ${n} end ${status ?? (error as Error)?.name}`),
    });
    return {
      run: (fn) => fn(),
      attempt: (n, ep, kind) => {
        log.push(`attempt ${n} ${kind} ${ep.id}`);
        return attemptScope(n);
      },
      retry: (n, reason) => log.push(`retry ${n} ${reason}`),
      hedge: (n, reason) => log.push(`hedge ${n} ${reason}`),
      rejected: (reason) => log.push(`rejected ${reason}`),
      mirrored: (subset, ok) => log.push(`mirrored ${subset} ${ok}`),
      end: (status, error) => log.push(`end ${status ?? (error as Error)?.name}`),
    };
  }
  server(): CallScope {
    return noopCallScope;
  }
  governed(): CallScope {
    return noopCallScope;
  }
}

/** The client's collaborators for service `catalog` with endpoints a, b, c (b and c tagged v2). */
export function clientSetup(ids: readonly string[] = ['a', 'b', 'c']) {
  const clock = new ManualClock();
  const random = seededRandom(3);
  const source = new FakeRuleSource('meshless');
  const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
  source.subscribe((snapshot) => rules.applySnapshot(snapshot));
  const breakers = new BreakerRegistry({ clock });
  const policies = new ServicePolicies('catalog', rules, breakers, clock, random);
  const groups = new EndpointGroups({ service: 'catalog', now: clock.now, random, logger: silent });
  groups.setEndpoints(
    ids.map((id, i) => endpoint(id, { service: 'catalog', port: 9000 + i, tags: i > 0 ? ['v2'] : [] })),
  );
  // As MeshClient does: handles carry their breakers, open ones are avoided.
  policies.onDidRebuild = () => attachBreakers(groups, policies);
  attachBreakers(groups, policies);
  breakers.onDidChangeState((c) => {
    if (c.endpointId !== undefined) markBreaker(groups, c.endpointId);
  });
  const sender = new ScriptedSender();
  const observer = new RecordingObserver();
  /** Writes `services/catalog/routes` and hands the parsed rule to the groups, as MeshClient does. */
  const putRoutes = (doc: unknown) => {
    source.put('services/catalog/routes', doc);
    groups.setRoutes(rules.get(routesSection, 'catalog'));
    policies.setRoutes(groups.table.routes);
  };
  /** A call as the route stage hands it on: with its route decision and policies. */
  const routed = (...args: Parameters<typeof outboundCall>): OutboundCall => {
    const call = outboundCall(...args);
    call.decision = groups.table.route(call, random);
    call.policies = policies.forCall(call.operation, call.decision.route);
    return call;
  };
  return { clock, random, source, rules, breakers, policies, groups, sender, observer, putRoutes, routed };
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A call as MeshClient makes it. */
export function outboundCall(
  method = 'GET',
  path = '/items/1',
  fields: {
    headers?: Record<string, string>;
    operation?: string;
    signal?: AbortSignal;
    caller?: string;
  } = {},
): OutboundCall {
  const call = new OutboundCall(
    'catalog',
    method,
    path,
    { ...fields.headers },
    undefined,
    true,
    fields.caller,
    fields.operation,
    false,
    undefined,
    fields.signal,
  );
  call.retryable = method === 'GET';
  return call;
}

/** A whole MeshClient for `service`, called by `caller`, over fake discovery and a scripted sender. */
export function meshClientOver(
  service: string,
  endpoints: readonly Endpoint[],
  options: { caller: string; seed: number; propagation?: PropagatedHeaders | undefined },
) {
  const clock = new ManualClock();
  const source = new FakeRuleSource('meshless');
  const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
  source.subscribe((snapshot) => rules.applySnapshot(snapshot));
  const resolver = new FakeResolver(endpoints);
  const sender = new ScriptedSender();
  const observer = new RecordingObserver();
  const client = new MeshClient({
    service,
    caller: options.caller,
    localZone: undefined,
    localRegion: undefined,
    resolver,
    rules,
    breakers: new BreakerRegistry({ clock }),
    transport: sender,
    clock,
    random: seededRandom(options.seed),
    logger: silent,
    observer,
    propagation: options.propagation,
  });
  return { clock, source, resolver, sender, observer, client };
}
