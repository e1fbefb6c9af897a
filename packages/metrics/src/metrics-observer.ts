import {
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  type InboundHeaders,
  noopAttemptScope,
} from '@meshless/core';
import type { OutcomeRecorder, ResourceRecorder, StatusRecorder } from './call-recorders.ts';
import type { ClientServiceMetrics } from './client-service-metrics.ts';
import type { MeshMetrics } from './mesh-metrics.ts';
import { methodLabel, outcomeOf } from './outcome.ts';
import type { ServerServiceMetrics } from './server-service-metrics.ts';

/**
 * The metrics side of the telemetry seam. A scope holds no per-call state (`end` is given the
 * seconds), so it is a prepared object per label set, made on first use and kept: opening a
 * scope is a few Map lookups on strings the caller already holds, recording is a counter
 * increment and a histogram observation on cells resolved earlier. No allocation per call.
 */
export class MetricsObserver implements CallObserver {
  // service -> method (or operation) -> subset ('' for all) -> scope
  private readonly clients = new Map<string, Map<string, Map<string, ClientScope>>>();
  // service -> method label -> scope (labels, not raw methods: a client cannot grow the map)
  private readonly servers = new Map<string, Map<string, ServerScope>>();
  private readonly resources = new Map<string, GovernedScope>();

  constructor(readonly metrics: MeshMetrics) {}

  client(call: ClientCallInfo): CallScope {
    const method = call.operation ?? call.method;
    const subset = call.subset ?? '';
    let byMethod = this.clients.get(call.service);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.clients.set(call.service, byMethod);
    }
    let bySubset = byMethod.get(method);
    if (bySubset === undefined) {
      bySubset = new Map();
      byMethod.set(method, bySubset);
    }
    let scope = bySubset.get(subset);
    if (scope === undefined) {
      const service = this.metrics.service(call.service);
      // `all` as the subset label of calls to every endpoint, as before the seam.
      scope = new ClientScope(service, service.call(method, call.subset ?? 'all'));
      bySubset.set(subset, scope);
    }
    return scope;
  }

  server(service: string, method: string, _url: string | undefined, _headers: InboundHeaders): CallScope {
    const label = methodLabel(method);
    let byMethod = this.servers.get(service);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.servers.set(service, byMethod);
    }
    let scope = byMethod.get(label);
    if (scope === undefined) {
      const metrics = this.metrics.serverService(service);
      scope = new ServerScope(metrics, metrics.call(label));
      byMethod.set(label, scope);
    }
    return scope;
  }

  governed(resource: string): CallScope {
    let scope = this.resources.get(resource);
    if (scope === undefined) {
      scope = new GovernedScope(this.metrics.resourceCall(resource));
      this.resources.set(resource, scope);
    }
    return scope;
  }
}

/** What metrics do not observe: contexts, attempts, mirrors. */
abstract class StatelessScope implements CallScope {
  run<T>(fn: () => T): T {
    return fn();
  }

  attempt(): AttemptScope {
    return noopAttemptScope;
  }

  retry(_attempt: number, _reason: string): void {}

  hedge(_attempt: number, _reason: 'delay' | 'failure'): void {}

  rejected(_reason: string, _action: 'rejected' | 'shed'): void {}

  mirrored(_subset: string, _ok: boolean): void {}

  abstract end(status: number | undefined, error: unknown, seconds: number): void;
}

/** Calls of one (service, method, subset): client_requests_total, duration, retries, hedges. */
class ClientScope extends StatelessScope {
  constructor(
    private readonly service: ClientServiceMetrics,
    private readonly recorder: OutcomeRecorder,
  ) {
    super();
  }

  override retry(_attempt: number, reason: string): void {
    this.service.retry(reason);
  }

  override hedge(_attempt: number, reason: 'delay' | 'failure'): void {
    this.service.hedge(reason);
  }

  // rejected(): calls refused by client policies are counted where the policy refuses them
  // (client_rejected_total, retry budget); a fault-injected abort is no refusal.

  end(status: number | undefined, error: unknown, seconds: number): void {
    this.recorder.record(outcomeOf(error, status), seconds);
  }
}

/** Inbound requests of one (service, method): server_requests_total by status class, shed requests. */
class ServerScope extends StatelessScope {
  constructor(
    private readonly service: ServerServiceMetrics,
    private readonly recorder: StatusRecorder,
  ) {
    super();
  }

  override rejected(reason: string): void {
    this.service.rejected(reason);
  }

  end(status: number | undefined, error: unknown, seconds: number): void {
    this.recorder.record(status ?? (error === undefined ? 200 : 500), seconds);
  }
}

/** Calls of one decorated method: resource_calls_total and duration by outcome. */
class GovernedScope extends StatelessScope {
  constructor(private readonly recorder: ResourceRecorder) {
    super();
  }

  end(status: number | undefined, error: unknown, seconds: number): void {
    this.recorder.record(outcomeOf(error, status), seconds);
  }
}
