import {
  type AttemptKind,
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  type Endpoint,
  type InboundHeaders,
  noopAttemptScope,
  noopCallScope,
} from '@meshless/core';
import type { ClientCallSpan } from './client-call-span.ts';
import type { GovernedSpan } from './governed-span.ts';
import type { BreakerState, MeshSpan } from './mesh-span.ts';
import type { MeshTracer } from './mesh-tracer.ts';
import type { ServerSpan } from './server-span.ts';

/**
 * The tracing side of the telemetry seam: one span per scope (CLIENT per remote call with a
 * child per attempt, SERVER per inbound request, INTERNAL per decorated call). While tracing is
 * off (no SDK registered, no provider passed) every scope is `noopCallScope`: the call pays one
 * integer compare, as with MeshTracer itself.
 */
export class TracingObserver implements CallObserver {
  constructor(readonly tracer: MeshTracer) {}

  client(call: ClientCallInfo): CallScope {
    const span = this.tracer.startClientCall(call.method, call.service, call.path);
    if (span === undefined) return noopCallScope;
    span.setRoute(call.route, call.subset);
    return new ClientScope(span);
  }

  server(_service: string, method: string, url: string | undefined, headers: InboundHeaders): CallScope {
    // The request-like object is made only when a span will be.
    if (!this.tracer.enabled) return noopCallScope;
    const span = this.tracer.startServer({ method, url, headers });
    return span === undefined ? noopCallScope : new ServerScope(span);
  }

  governed(resource: string): CallScope {
    const span = this.tracer.startGoverned(resource);
    return span === undefined ? noopCallScope : new GovernedScope(span);
  }
}

/** What every span scope does the same way; each kind says how its span ends. */
abstract class SpanScope<S extends MeshSpan> implements CallScope {
  constructor(protected readonly span: S) {}

  run<T>(fn: () => T): T {
    return this.span.run(fn);
  }

  attempt(_attempt: number, _endpoint: Endpoint, _kind: AttemptKind, _breakerState?: string): AttemptScope {
    return noopAttemptScope;
  }

  retry(attempt: number, reason: string): void {
    this.span.retry(attempt, 0, reason);
  }

  hedge(attempt: number, reason: 'delay' | 'failure'): void {
    this.span.hedge(attempt, reason);
  }

  rejected(reason: string, action: 'rejected' | 'shed'): void {
    this.span.rejected(reason, action);
  }

  mirrored(_subset: string, _ok: boolean): void {}

  abstract end(status: number | undefined, error: unknown, seconds: number): void;
}

class ClientScope extends SpanScope<ClientCallSpan> {
  override attempt(
    attempt: number,
    endpoint: Endpoint,
    kind: AttemptKind,
    breakerState?: string,
  ): AttemptScope {
    try {
      // An AttemptSpan is an AttemptScope: inject() its context, end() with the answer.
      return this.span.startAttempt(attempt, endpoint, kind, breakerState as BreakerState | undefined);
    } catch {
      return noopAttemptScope; // a failing tracer must not fail the attempt
    }
  }

  end(status: number | undefined, error: unknown): void {
    this.span.end(status, error);
  }
}

class ServerScope extends SpanScope<ServerSpan> {
  end(status: number | undefined, error: unknown): void {
    this.span.end(status, error);
  }
}

class GovernedScope extends SpanScope<GovernedSpan> {
  end(_status: number | undefined, error: unknown): void {
    this.span.end(error);
  }
}
