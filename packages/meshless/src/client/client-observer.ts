import type { RouteDecision } from '@meshless/canary';
import {
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type Endpoint,
  type Logger,
  noopAttemptScope,
  noopCallObserver,
  noopCallScope,
} from '@meshless/core';
import type { OutboundCall } from './outbound-call.ts';

/** Extra hooks on remote calls (tests, custom telemetry): `createMesh({ observers: { client } })`. Every method optional and cheap. */
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

/** The user's client hooks as a CallObserver: one small scope per call while any hook is set. */
export function clientHooksObserver(hooks: ClientObserver | undefined, logger: Logger): CallObserver {
  if (!hooks || (!hooks.onAttempt && !hooks.onResult && !hooks.onMirror)) return noopCallObserver;
  const guard = hookGuard(logger);
  return {
    client: (call) => new HooksScope(hooks, call as OutboundCall, guard),
    server: () => noopCallScope,
    governed: () => noopCallScope,
  };
}

/** Runs a user hook; one that throws is logged once and never reaches the call it observes. */
function hookGuard(logger: Logger): (name: string, fn: () => void) => void {
  const logged = new Set<string>();
  return (name, fn) => {
    try {
      fn();
    } catch (error) {
      if (logged.has(name)) return;
      logged.add(name);
      logger.warn('observer hook threw; its errors are ignored', { hook: name, error });
    }
  };
}

class HooksScope implements CallScope {
  constructor(
    private readonly hooks: ClientObserver,
    private readonly call: OutboundCall,
    private readonly guard: (name: string, fn: () => void) => void,
  ) {}
  run<T>(fn: () => T): T {
    return fn();
  }
  attempt(attempt: number, endpoint: Endpoint): AttemptScope {
    const onAttempt = this.hooks.onAttempt;
    if (onAttempt) this.guard('onAttempt', () => onAttempt(this.call.service, endpoint, attempt));
    return noopAttemptScope;
  }
  retry(): void {}
  hedge(): void {}
  rejected(): void {}
  mirrored(subset: string, ok: boolean): void {
    const onMirror = this.hooks.onMirror;
    if (onMirror) this.guard('onMirror', () => onMirror(this.call.service, subset, ok));
  }
  end(status: number | undefined, error: unknown, seconds: number): void {
    const onResult = this.hooks.onResult;
    const { service, decision } = this.call;
    if (onResult) this.guard('onResult', () => onResult(service, decision, status, error, seconds));
  }
}
