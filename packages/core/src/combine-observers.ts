import {
  type AttemptKind,
  type AttemptScope,
  type CallObserver,
  type CallScope,
  type ClientCallInfo,
  type InboundHeaders,
  noopAttemptScope,
  noopCallObserver,
  noopCallScope,
} from './call-observer.ts';
import type { Endpoint } from './endpoint.ts';

/**
 * One CallObserver over several, built once (createMesh). None: `noopCallObserver`; one: that
 * observer itself. Several: each scope is asked of every observer and the no-op ones are
 * dropped, so a call sees `noopCallScope` when nobody observes it, the one live scope when one
 * does, and a composite (one allocation) only when several do.
 *
 * The composite does not guard its members with try/catch: the contract of CallObserver is that
 * an implementation never throws (the tracing and metrics observers swallow their own failures,
 * the user observer adapter guards the user's hooks), and the composite stays a plain loop.
 */
export function combineObservers(observers: readonly CallObserver[]): CallObserver {
  const live = observers.filter((o) => o !== noopCallObserver);
  if (live.length === 0) return noopCallObserver;
  if (live.length === 1) return live[0]!;
  return new CombinedObserver(live);
}

class CombinedObserver implements CallObserver {
  constructor(private readonly observers: readonly CallObserver[]) {}

  client(call: ClientCallInfo): CallScope {
    const os = this.observers;
    let first: CallScope = noopCallScope;
    let more: CallScope[] | undefined;
    for (let i = 0; i < os.length; i++) {
      const s = os[i]!.client(call);
      if (s === noopCallScope) continue;
      if (first === noopCallScope) first = s;
      else if (more === undefined) more = [first, s];
      else more.push(s);
    }
    return more === undefined ? first : new CombinedScope(more);
  }

  server(service: string, method: string, url: string | undefined, headers: InboundHeaders): CallScope {
    const os = this.observers;
    let first: CallScope = noopCallScope;
    let more: CallScope[] | undefined;
    for (let i = 0; i < os.length; i++) {
      const s = os[i]!.server(service, method, url, headers);
      if (s === noopCallScope) continue;
      if (first === noopCallScope) first = s;
      else if (more === undefined) more = [first, s];
      else more.push(s);
    }
    return more === undefined ? first : new CombinedScope(more);
  }

  governed(resource: string): CallScope {
    const os = this.observers;
    let first: CallScope = noopCallScope;
    let more: CallScope[] | undefined;
    for (let i = 0; i < os.length; i++) {
      const s = os[i]!.governed(resource);
      if (s === noopCallScope) continue;
      if (first === noopCallScope) first = s;
      else if (more === undefined) more = [first, s];
      else more.push(s);
    }
    return more === undefined ? first : new CombinedScope(more);
  }
}

/** The live scopes of one call (two or more), in the order of the observers. */
class CombinedScope implements CallScope {
  constructor(private readonly scopes: readonly CallScope[]) {}

  run<T>(fn: () => T): T {
    return runFrom(this.scopes, 0, fn);
  }

  attempt(attempt: number, endpoint: Endpoint, kind: AttemptKind, breakerState?: string): AttemptScope {
    const ss = this.scopes;
    let first: AttemptScope = noopAttemptScope;
    let more: AttemptScope[] | undefined;
    for (let i = 0; i < ss.length; i++) {
      const a = ss[i]!.attempt(attempt, endpoint, kind, breakerState);
      if (a === noopAttemptScope) continue;
      if (first === noopAttemptScope) first = a;
      else if (more === undefined) more = [first, a];
      else more.push(a);
    }
    return more === undefined ? first : new CombinedAttemptScope(more);
  }

  retry(attempt: number, reason: string): void {
    for (const s of this.scopes) s.retry(attempt, reason);
  }

  hedge(attempt: number, reason: 'delay' | 'failure'): void {
    for (const s of this.scopes) s.hedge(attempt, reason);
  }

  rejected(reason: string, action: 'rejected' | 'shed'): void {
    for (const s of this.scopes) s.rejected(reason, action);
  }

  mirrored(subset: string, ok: boolean): void {
    for (const s of this.scopes) s.mirrored(subset, ok);
  }

  end(status: number | undefined, error: unknown, seconds: number): void {
    for (const s of this.scopes) s.end(status, error, seconds);
  }
}

/** Nests the runs: the first observer's context outermost (usually only one scope has a context). */
function runFrom<T>(scopes: readonly CallScope[], i: number, fn: () => T): T {
  const s = scopes[i]!;
  if (i === scopes.length - 1) return s.run(fn);
  return s.run(() => runFrom(scopes, i + 1, fn));
}

class CombinedAttemptScope implements AttemptScope {
  constructor(private readonly scopes: readonly AttemptScope[]) {}

  inject(headers: Record<string, string>): void {
    for (const s of this.scopes) s.inject(headers);
  }

  end(status: number | undefined, error: unknown): void {
    for (const s of this.scopes) s.end(status, error);
  }
}
