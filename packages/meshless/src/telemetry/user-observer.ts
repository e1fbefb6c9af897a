import type { RouteDecision } from '@meshless/canary';
import {
  type AttemptKind,
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  type Endpoint,
  type InboundHeaders,
  KNOWN_HTTP_METHODS,
  type Logger,
  noopAttemptScope,
  noopCallObserver,
  noopCallScope,
} from '@meshless/core';
import type { ClientObserver } from '../client/client-observer.ts';
import type { InboundObserver } from '../server/inbound-guard.ts';

/** The user's hooks, as `createMesh({ observers })` takes them. */
export interface UserObservers {
  client?: ClientObserver | undefined;
  inbound?: InboundObserver | undefined;
}

/** A client call as the client hands it over: with the route decision users get in onResult. */
type RoutedCallInfo = ClientCallInfo & { readonly decision?: RouteDecision };

/**
 * The user's hooks (`observers.client`: onAttempt, onResult, onMirror; `observers.inbound`:
 * onShed, onHandled) as a CallObserver, so they ride the same seam as tracing and metrics.
 * Without hooks it is `noopCallObserver`; a kind of call with no hook gets `noopCallScope`.
 * A hook that throws is logged (once per hook) and does not reach the call: telemetry never
 * fails a request.
 */
export function userObserver(hooks: UserObservers, logger: Logger): CallObserver {
  const c = hooks.client;
  const i = hooks.inbound;
  const hasClient = c !== undefined && (c.onAttempt ?? c.onResult ?? c.onMirror) !== undefined;
  const hasInbound = i !== undefined && (i.onShed ?? i.onHandled) !== undefined;
  if (!hasClient && !hasInbound) return noopCallObserver;
  return new UserObserver(hasClient ? c : undefined, hasInbound ? i : undefined, new HookGuard(logger));
}

/** Calls a user hook, swallowing (and logging once per hook) what it throws. */
class HookGuard {
  private readonly reported = new Set<string>();

  constructor(private readonly logger: Logger) {}

  threw(hook: string, error: unknown): void {
    if (this.reported.has(hook)) return;
    this.reported.add(hook);
    this.logger.error(`observer hook ${hook} threw; it is ignored (logged once)`, { error });
  }
}

class UserObserver implements CallObserver {
  // Decisions are prepared per route table (per service): a scope per decision allocates nothing per call.
  private readonly clients = new WeakMap<RouteDecision, ClientScope>();
  // Known methods only: a hostile method name must not grow the map (it gets a scope of its own).
  private readonly servers = new Map<string, ServerScope>();

  constructor(
    private readonly clientHooks: ClientObserver | undefined,
    private readonly inboundHooks: InboundObserver | undefined,
    private readonly guard: HookGuard,
  ) {}

  client(call: ClientCallInfo): CallScope {
    const hooks = this.clientHooks;
    if (hooks === undefined) return noopCallScope;
    const decision = (call as RoutedCallInfo).decision;
    if (decision === undefined) return new ClientScope(hooks, call.service, decisionOf(call), this.guard);
    const cached = this.clients.get(decision);
    if (cached !== undefined && cached.service === call.service) return cached;
    const scope = new ClientScope(hooks, call.service, decision, this.guard);
    this.clients.set(decision, scope);
    return scope;
  }

  server(_service: string, method: string, _url: string | undefined, _headers: InboundHeaders): CallScope {
    const hooks = this.inboundHooks;
    if (hooks === undefined) return noopCallScope;
    let scope = this.servers.get(method);
    if (scope === undefined) {
      scope = new ServerScope(hooks, method, this.guard);
      if (KNOWN_HTTP_METHODS.has(method)) this.servers.set(method, scope);
    }
    return scope;
  }

  governed(_resource: string): CallScope {
    return noopCallScope;
  }
}

/** A decision for a call that came without one (not the mesh's own client): what the info says. */
function decisionOf(call: ClientCallInfo): RouteDecision {
  const route = { name: call.route, index: -1, timeoutMs: undefined, retry: undefined, destinations: [] };
  return { route, subset: call.subset, fallback: false, available: true };
}

/** The hooks see no contexts, retries or hedges; each kind keeps the rest. */
abstract class HookScope implements CallScope {
  run<T>(fn: () => T): T {
    return fn();
  }

  attempt(_attempt: number, _endpoint: Endpoint, _kind: AttemptKind, _breakerState?: string): AttemptScope {
    return noopAttemptScope;
  }

  retry(_attempt: number, _reason: string): void {}

  hedge(_attempt: number, _reason: 'delay' | 'failure'): void {}

  rejected(_reason: string, _action: 'rejected' | 'shed'): void {}

  mirrored(_subset: string, _ok: boolean): void {}

  abstract end(status: number | undefined, error: unknown, seconds: number): void;
}

class ClientScope extends HookScope {
  constructor(
    private readonly hooks: ClientObserver,
    readonly service: string,
    private readonly decision: RouteDecision,
    private readonly guard: HookGuard,
  ) {
    super();
  }

  override attempt(attempt: number, endpoint: Endpoint): AttemptScope {
    try {
      this.hooks.onAttempt?.(this.service, endpoint, attempt);
    } catch (error) {
      this.guard.threw('onAttempt', error);
    }
    return noopAttemptScope;
  }

  override mirrored(subset: string, ok: boolean): void {
    try {
      this.hooks.onMirror?.(this.service, subset, ok);
    } catch (error) {
      this.guard.threw('onMirror', error);
    }
  }

  end(status: number | undefined, error: unknown, seconds: number): void {
    try {
      this.hooks.onResult?.(this.service, this.decision, status, error, seconds);
    } catch (thrown) {
      this.guard.threw('onResult', thrown);
    }
  }
}

class ServerScope extends HookScope {
  constructor(
    private readonly hooks: InboundObserver,
    private readonly method: string,
    private readonly guard: HookGuard,
  ) {
    super();
  }

  override rejected(reason: string): void {
    try {
      // The inbound guard sheds only for these reasons (ShedReason).
      this.hooks.onShed?.(reason as Parameters<NonNullable<InboundObserver['onShed']>>[0]);
    } catch (error) {
      this.guard.threw('onShed', error);
    }
  }

  end(status: number | undefined, error: unknown, seconds: number): void {
    try {
      this.hooks.onHandled?.(this.method, status ?? (error === undefined ? 200 : 500), seconds);
    } catch (thrown) {
      this.guard.threw('onHandled', thrown);
    }
  }
}
