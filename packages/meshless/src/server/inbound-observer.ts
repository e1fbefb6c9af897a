import {
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type InboundHeaders,
  KNOWN_HTTP_METHODS,
  type Logger,
  noopAttemptScope,
  noopCallObserver,
  noopCallScope,
} from '@meshless/core';

/** Why a request was not handled. */
export type ShedReason =
  | 'rate_limited'
  | 'concurrency'
  | 'fault_abort'
  // Zero trust: refused by an intention, a plain request in strict mode, an untrusted certificate,
  // or intentions not loaded yet (fail closed).
  | 'intention_denied'
  | 'mtls_required'
  | 'peer_untrusted'
  | 'intentions_unavailable';

/** Extra hooks on inbound requests (tests, custom telemetry): `createMesh({ observers: { inbound } })`. */
export interface InboundObserver {
  onShed?(reason: ShedReason): void;
  onHandled?(method: string, status: number, seconds: number): void;
}

/**
 * The user's inbound hooks as a CallObserver (server scopes only). No hook: `noopCallObserver`.
 * A scope holds only the method, so scopes of the known methods are made once and kept (any
 * other method gets its own: a client must not grow the map). A throwing hook is logged once
 * and never reaches the request.
 */
export function inboundHooksObserver(hooks: InboundObserver | undefined, logger: Logger): CallObserver {
  if (!hooks || (!hooks.onShed && !hooks.onHandled)) return noopCallObserver;
  const guard = new HookGuard(logger);
  const scopes = new Map<string, InboundHooksScope>();
  return {
    client: () => noopCallScope,
    server(_service: string, method: string, _url: string | undefined, _headers: InboundHeaders): CallScope {
      let scope = scopes.get(method);
      if (scope === undefined) {
        scope = new InboundHooksScope(hooks, method, guard);
        if (KNOWN_HTTP_METHODS.has(method)) scopes.set(method, scope);
      }
      return scope;
    },
    governed: () => noopCallScope,
  };
}

/** Logs the first throw of each hook (a hook that throws per request must not flood the log). */
class HookGuard {
  private readonly logged = new Set<string>();
  constructor(private readonly logger: Logger) {}
  threw(hook: string, error: unknown): void {
    if (this.logged.has(hook)) return;
    this.logged.add(hook);
    this.logger.warn('observer hook threw; its errors are ignored', { hook, error });
  }
}

class InboundHooksScope implements CallScope {
  constructor(
    private readonly hooks: InboundObserver,
    private readonly method: string,
    private readonly guard: HookGuard,
  ) {}
  run<T>(fn: () => T): T {
    return fn();
  }
  attempt(): AttemptScope {
    return noopAttemptScope;
  }
  retry(): void {}
  hedge(): void {}
  rejected(reason: string): void {
    try {
      // The inbound guard rejects only for a ShedReason.
      this.hooks.onShed?.(reason as ShedReason);
    } catch (error) {
      this.guard.threw('onShed', error);
    }
  }
  mirrored(): void {}
  end(status: number | undefined, error: unknown, seconds: number): void {
    try {
      this.hooks.onHandled?.(this.method, status ?? (error === undefined ? 200 : 500), seconds);
    } catch (thrown) {
      this.guard.threw('onHandled', thrown);
    }
  }
}
