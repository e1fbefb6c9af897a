import { MeshlessError } from '@meshless/core';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESHLESS_ACTION,
  ATTR_MESHLESS_ATTEMPT,
  ATTR_MESHLESS_BREAKER_FROM,
  ATTR_MESHLESS_BREAKER_TO,
  ATTR_MESHLESS_DELAY_MS,
  ATTR_MESHLESS_ENDPOINT_ID,
  ATTR_MESHLESS_REASON,
  EVENT_BREAKER_TRANSITION,
  EVENT_FALLBACK,
  EVENT_HEDGE,
  EVENT_REJECTED,
  EVENT_RETRY,
} from './attributes.ts';
import { errorTypeOf } from './error-type.ts';
import { headerSetter, type OutgoingHeaders } from './header-carrier.ts';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  SpanStatusCode,
  trace,
} from './otel.ts';

export type BreakerState = 'closed' | 'half-open' | 'open';

/** What meshless did with a request it refused: failed it, shed it (inbound), or sent it elsewhere. */
export type RejectAction = 'rejected' | 'shed' | 'rerouted';

/**
 * A span meshless started, with the events of governance on it. Exists only while tracing is
 * on (the tracer hands out `undefined` otherwise), so callers write `span?.retry(...)`. No
 * method throws: telemetry never breaks a call.
 */
export class MeshSpan {
  readonly span: Span;
  private readonly parent: Context;
  private ctx: Context | undefined;
  protected ended = false;

  constructor(span: Span, parent: Context) {
    this.span = span;
    this.parent = parent;
  }

  /** The parent context with this span in it: for children, `run()` and `inject()`. */
  get context(): Context {
    this.ctx ??= trace.setSpan(this.parent, this.span);
    return this.ctx;
  }

  /** Runs `fn` with this span active, so spans started inside it (also by other libraries) are its children. */
  run<A extends unknown[], R>(fn: (...args: A) => R, thisArg?: unknown, ...args: A): R {
    return context.with(this.context, fn, thisArg, ...args);
  }

  /** Adds this span's trace context (traceparent, tracestate, baggage) to outgoing headers. */
  inject(headers: OutgoingHeaders): void {
    try {
      propagation.inject(this.context, headers, headerSetter);
    } catch {
      // a broken propagator must not fail the request
    }
  }

  /** A retry is about to start: `attempt` is its number (2 for the first retry), after `delayMs`. */
  retry(attempt: number, delayMs: number, reason?: string): void {
    const attributes: Attributes = { [ATTR_MESHLESS_ATTEMPT]: attempt, [ATTR_MESHLESS_DELAY_MS]: delayMs };
    if (reason !== undefined) attributes[ATTR_MESHLESS_REASON] = reason;
    this.event(EVENT_RETRY, attributes);
  }

  /** A hedged attempt started: `reason` is `delay` (the hedge delay passed) or `failure`. */
  hedge(attempt: number, reason: string): void {
    this.event(EVENT_HEDGE, { [ATTR_MESHLESS_ATTEMPT]: attempt, [ATTR_MESHLESS_REASON]: reason });
  }

  /** A circuit breaker on this call's path changed state. */
  breakerTransition(from: BreakerState, to: BreakerState, endpointId?: string): void {
    const attributes: Attributes = { [ATTR_MESHLESS_BREAKER_FROM]: from, [ATTR_MESHLESS_BREAKER_TO]: to };
    if (endpointId !== undefined) attributes[ATTR_MESHLESS_ENDPOINT_ID] = endpointId;
    this.event(EVENT_BREAKER_TRANSITION, attributes);
  }

  /**
   * meshless refused the request or an attempt, and why: `reason` such as `rate_limited`,
   * `bulkhead_full`, `circuit_open`, `retry_budget_exhausted`; `action` what became of it.
   */
  rejected(reason: string, action: RejectAction = 'rejected', endpointId?: string): void {
    const attributes: Attributes = { [ATTR_MESHLESS_REASON]: reason, [ATTR_MESHLESS_ACTION]: action };
    if (endpointId !== undefined) attributes[ATTR_MESHLESS_ENDPOINT_ID] = endpointId;
    this.event(EVENT_REJECTED, attributes);
  }

  /** The call failed with `cause` and a fallback answered instead. */
  fallback(cause: unknown): void {
    this.event(EVENT_FALLBACK, { [ATTR_ERROR_TYPE]: errorTypeOf(cause) });
  }

  protected event(name: string, attributes: Attributes): void {
    if (this.ended) return;
    try {
      this.span.addEvent(name, attributes);
    } catch {
      // never into user code
    }
  }

  /** Marks the span failed: `error.type`, ERROR status, and the exception if it is not one of ours. */
  protected fail(error: unknown, errorType: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    const message = error instanceof Error ? error.message : undefined;
    this.span.setStatus(
      message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message },
    );
    // meshless errors are described by error.type and the events; others get their stack.
    if (error instanceof Error && !MeshlessError.isInstance(error)) this.span.recordException(error);
  }

  /** Ends the span once; later calls are ignored. */
  protected finish(): boolean {
    if (this.ended) return false;
    this.ended = true;
    try {
      this.span.end();
    } catch {
      // a failing span processor must not reach the caller
    }
    return true;
  }
}
