import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CALLER_HEADER,
  type CallObserver,
  type CallScope,
  type Clock,
  type Disposable,
  DisposableStore,
  isThenable,
  type Logger,
  MeshlessError,
  noopCallObserver,
  type Policy,
  type Random,
  type RuleStore,
  SHED_HEADER,
} from '@meshless/core';
import {
  createConcurrencyLimiter,
  createRateLimiter,
  KeyedRateLimiter,
  type RateLimitPolicy,
} from '@meshless/limiter';
import { DEADLINE_HEADER, parseDeadlineHeader, runWithDeadline } from '@meshless/retry';
import type { PropagatedHeaders } from '../propagation/propagated-headers.ts';
import { type InboundRule, inboundSection } from '../rules/inbound.ts';
import type { InboundAuthorizer, InboundMtlsMode } from '../zero-trust/inbound-authorizer.ts';
import { answerError, logHandlerError } from './error-response.ts';
import type { ShedReason } from './inbound-observer.ts';

export type { InboundObserver, ShedReason } from './inbound-observer.ts';

// Named in core's wire-headers.ts; re-exported for the code that took it from here.
export { CALLER_HEADER };

interface Prepared {
  rateLimit: RateLimitPolicy | KeyedRateLimiter | undefined;
  concurrency: Policy | undefined;
  fault: InboundRule['fault'];
}

/**
 * Applies `services/<self>/inbound` to incoming requests: rate limit (optionally per calling
 * service), concurrency limit (fixed or adaptive), fault injection; extracts the caller, the
 * deadline and the propagated headers. Shed requests get 429 or 503 with Retry-After. Rebuilt
 * on rule change only.
 */
export class InboundGuard implements Disposable {
  private prepared: Prepared = { rateLimit: undefined, concurrency: undefined, fault: undefined };
  private readonly disposables = new DisposableStore();
  /** The code's inbound mode, for when the rule names none. */
  private readonly defaultMtls: InboundMtlsMode;

  constructor(
    private readonly service: string,
    rules: RuleStore,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly logger: Logger,
    /** Tracing, metrics and the user's hooks, combined: one scope per request. */
    private readonly observer: CallObserver = noopCallObserver,
    /** The headers that travel on from the request to the handler's calls (undefined: none named). */
    private readonly propagation: PropagatedHeaders | undefined = undefined,
    /** Zero trust: who may call, by the verified certificate (undefined: zero trust off). */
    private readonly authorizer: InboundAuthorizer | undefined = undefined,
  ) {
    this.defaultMtls = authorizer?.mode ?? 'permissive';
    this.apply(rules.get(inboundSection, service));
    this.disposables.add(rules.watch(inboundSection, service, (rule) => this.apply(rule)));
  }

  /**
   * Runs `handle` for the request if the rules admit it, inside the caller's deadline; answers
   * the request itself when it is shed. Resolves when the response is finished.
   */
  async run(req: IncomingMessage, res: ServerResponse, handle: () => unknown): Promise<void> {
    const p = this.prepared;
    const started = this.clock.now();
    const scope = this.observer.server(this.service, req.method ?? 'GET', req.url, req.headers);
    let caller = headerValue(req, CALLER_HEADER);
    // Before any limit: a refused caller spends no tokens.
    if (this.authorizer) {
      const refusal = this.authorizer.check(req, caller);
      if (refusal) return this.shed(res, scope, started, refusal.status, refusal.reason, 0, refusal.code);
      // A verified caller is who its certificate says, whatever its header claims (per-caller limits).
      const peer = req.meshless?.peer;
      if (peer !== undefined) caller = peer.service;
    }
    if (p.rateLimit) {
      const wait =
        p.rateLimit instanceof KeyedRateLimiter
          ? p.rateLimit.tryAcquire(caller ?? '')
          : p.rateLimit.tryAcquire();
      if (wait > 0) return this.shed(res, scope, started, 429, 'rate_limited', wait);
    }
    if (p.fault) {
      const f = p.fault;
      if (f.delay && this.random() * 100 < f.delay.percent)
        await new Promise((r) => this.clock.setTimeout(() => r(undefined), f.delay!.ms));
      if (f.abort && this.random() * 100 < f.abort.percent)
        return this.shed(res, scope, started, f.abort.status, 'fault_abort', 0);
    }
    const deadline = parseDeadlineHeader(headerValue(req, DEADLINE_HEADER));
    const work = () => {
      const finished = whenFinished(res);
      // The handler runs inside the call's scope (a server span: its calls become children), the
      // caller's deadline and the headers that travel on.
      const enter = () =>
        deadline.remainingMs !== undefined
          ? runWithDeadline(this.clock.now() + deadline.remainingMs, () => scope.run(handle))
          : scope.run(handle);
      try {
        const result = this.propagation ? this.propagation.run(req.headers, enter) : enter();
        // An async handler that rejects is answered too (not an unhandled rejection, and not a
        // request left open that would hold its concurrency slot).
        if (isThenable(result)) result.then(undefined, (error: unknown) => this.fail(res, error));
      } catch (error) {
        this.fail(res, error);
      }
      return finished;
    };
    try {
      if (p.concurrency) await p.concurrency.execute(work);
      else await work();
    } catch (error) {
      if (MeshlessError.isInstance(error) && /BULKHEAD|CONCURRENCY/.test(error.code)) {
        return this.shed(res, scope, started, 503, 'concurrency', 1000);
      }
      this.fail(res, error);
    }
    this.finish(res, scope, started);
  }

  dispose(): void {
    this.disposables.dispose();
    this.authorizer?.dispose();
  }

  private apply(rule: InboundRule | undefined): void {
    const resource = `${this.service}.inbound`;
    if (this.authorizer) this.authorizer.mode = rule?.mtls ?? this.defaultMtls;
    try {
      this.prepared = {
        rateLimit: rule?.rateLimit
          ? createRateLimiter({ ...rule.rateLimit, resource, clock: this.clock })
          : undefined,
        concurrency: rule?.concurrency
          ? createConcurrencyLimiter(rule.concurrency, { resource, clock: this.clock })
          : undefined,
        fault: rule?.fault,
      };
    } catch (error) {
      this.logger.error('inbound rule could not be applied; keeping the previous limits', {
        service: this.service,
        error,
      });
    }
  }

  private shed(
    res: ServerResponse,
    scope: CallScope,
    started: number,
    status: number,
    reason: ShedReason,
    retryAfterMs: number,
    code?: string,
  ): void {
    scope.rejected(reason, 'shed');
    if (!res.headersSent) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        [SHED_HEADER]: reason,
      };
      if (retryAfterMs > 0) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
      res.writeHead(status, headers);
      res.end(JSON.stringify(code ? { error: reason, code } : { error: reason }));
    }
    this.finish(res, scope, started);
  }

  private finish(res: ServerResponse, scope: CallScope, started: number): void {
    scope.end(res.statusCode, undefined, (this.clock.now() - started) / 1000);
  }

  /** An error reached the handler: meshless errors get their status (504 for a deadline, ...), others 500. */
  private fail(res: ServerResponse, error: unknown): void {
    logHandlerError(this.logger, this.service, error);
    answerError(res, error);
  }
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function whenFinished(res: ServerResponse): Promise<void> {
  if (res.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      resolve();
    };
    res.on('finish', done);
    res.on('close', done);
  });
}
