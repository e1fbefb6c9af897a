import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_ROUTE,
  ATTR_MESHLESS_RESOURCE,
  ATTR_MESHLESS_SERVICE,
  ATTR_SERVER_ADDRESS,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  semconvMethod,
} from './attributes.ts';
import { ClientCallSpan } from './client-call-span.ts';
import { GovernedSpan } from './governed-span.ts';
import { headerGetter, headerSetter, type IncomingHeaders, type OutgoingHeaders } from './header-carrier.ts';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  SpanKind,
  type Tracer,
  type TracerProvider,
} from './otel.ts';
import { generation, resolveTracer } from './provider-state.ts';
import { ServerSpan } from './server-span.ts';

export const TRACER_NAME = '@meshless/tracing';
export const TRACER_VERSION = '0.1.0';

export interface MeshTracerOptions {
  /** Use this provider instead of the global one (tests, or an SDK you do not register globally). */
  tracerProvider?: TracerProvider;
  /** This instance's service name, set as `meshless.service` on SERVER spans. */
  serviceName?: string;
}

/** What startServer reads from an inbound request; node:http's IncomingMessage fits. */
export interface IncomingRequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHeaders;
}

/**
 * meshless's spans. Every `start*` returns `undefined` while tracing is off (no SDK registered
 * and no provider passed): the caller skips all span work with `?.`, and the cost of "off" is
 * one integer compare. Whether it is on is decided at creation and again after each
 * startTracing() / refreshTracing(), never by probing per call.
 */
export class MeshTracer {
  readonly serviceName: string | undefined;
  private readonly provider: TracerProvider | undefined;
  private tracer: Tracer | undefined;
  private seen = -1;

  constructor(options: MeshTracerOptions = {}) {
    this.provider = options.tracerProvider;
    this.serviceName = options.serviceName;
    this.refresh();
  }

  /** Whether spans are being recorded (an SDK is registered, or a provider was passed). */
  get enabled(): boolean {
    return this.current() !== undefined;
  }

  /** Looks for a registered SDK now. */
  refresh(): void {
    this.seen = generation.value;
    try {
      this.tracer = resolveTracer(this.provider, TRACER_NAME, TRACER_VERSION);
    } catch {
      this.tracer = undefined;
    }
  }

  /**
   * The CLIENT span of a governed call to `service`, child of the active span. `path` is the
   * request path (`/items/42?x=1`); until an attempt ends, `url.full` and `server.address` name
   * the service itself (`http://catalog/items/42`).
   */
  startClientCall(method: string, service: string, path: string): ClientCallSpan | undefined {
    const tracer = this.current();
    if (tracer === undefined) return undefined;
    try {
      const m = semconvMethod(method);
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: m,
        [ATTR_SERVER_ADDRESS]: service,
        [ATTR_URL_FULL]: `http://${service}${path}`,
        [ATTR_MESHLESS_SERVICE]: service,
      };
      if (m !== method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method;
      const parent = context.active();
      const span = tracer.startSpan(m, { kind: SpanKind.CLIENT, attributes }, parent);
      return new ClientCallSpan(span, parent, tracer, method, service, path);
    } catch {
      return undefined;
    }
  }

  /**
   * The SERVER span of an inbound request, continuing the caller's trace from its
   * `traceparent` / `tracestate` / `baggage` headers. `route` is the matched route template
   * (`/items/:id`), if the framework knows it; the span is named `GET /items/:id` or just `GET`.
   */
  startServer(req: IncomingRequestLike, route?: string): ServerSpan | undefined {
    const tracer = this.current();
    if (tracer === undefined) return undefined;
    try {
      const method = req.method ?? 'GET';
      const m = semconvMethod(method);
      const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: m };
      if (m !== method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method;
      const url = req.url;
      if (url !== undefined) {
        const q = url.indexOf('?');
        attributes[ATTR_URL_PATH] = q === -1 ? url : url.slice(0, q);
        if (q !== -1) attributes[ATTR_URL_QUERY] = url.slice(q + 1);
      }
      if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
      if (this.serviceName !== undefined) attributes[ATTR_MESHLESS_SERVICE] = this.serviceName;
      const parent = propagation.extract(context.active(), req.headers, headerGetter);
      const span = tracer.startSpan(
        route === undefined ? m : `${m} ${route}`,
        { kind: SpanKind.SERVER, attributes },
        parent,
      );
      return new ServerSpan(span, parent);
    } catch {
      return undefined;
    }
  }

  /** The INTERNAL span of one call of a governed method, named after its resource. */
  startGoverned(resource: string): GovernedSpan | undefined {
    const tracer = this.current();
    if (tracer === undefined) return undefined;
    try {
      const parent = context.active();
      const span = tracer.startSpan(
        resource,
        { kind: SpanKind.INTERNAL, attributes: { [ATTR_MESHLESS_RESOURCE]: resource } },
        parent,
      );
      return new GovernedSpan(span, parent);
    } catch {
      return undefined;
    }
  }

  /**
   * Calls `fn.apply(thisArg, args)` inside a governed-method span (ended when the result
   * settles); with tracing off, just calls it. For decorators: `tracer.governed(name, original, this, args)`.
   */
  governed<R>(resource: string, fn: (...args: never[]) => R, thisArg: unknown, args: readonly unknown[]): R {
    const span = this.startGoverned(resource);
    if (span === undefined) return (fn as (...a: unknown[]) => R).apply(thisArg, args as unknown[]);
    return span.trace(fn, thisArg, args);
  }

  /** Adds the active context (or `ctx`) to outgoing headers. Nothing at all while tracing is off. */
  inject(headers: OutgoingHeaders, ctx?: Context): void {
    if (this.current() === undefined) return;
    try {
      propagation.inject(ctx ?? context.active(), headers, headerSetter);
    } catch {
      // a broken propagator must not fail the request
    }
  }

  private current(): Tracer | undefined {
    if (this.seen !== generation.value) this.refresh();
    return this.tracer;
  }
}

/** A MeshTracer over the global tracer provider (or the one passed). */
export function createMeshTracer(options: MeshTracerOptions = {}): MeshTracer {
  return new MeshTracer(options);
}
