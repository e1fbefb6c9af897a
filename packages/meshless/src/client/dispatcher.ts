import { ClosedError, nullRecord } from '@meshless/core';
import { DispatchCall, REPLAYABLE_BODY_LIMIT } from './dispatch-call.ts';
import type { MeshClient } from './mesh-client.ts';
import type { MeshRequestInit } from './request-init.ts';
import {
  controllerHandler,
  type DispatchOptions,
  isLegacyHandler,
  LegacyDispatcher,
  PassThroughAgent,
  settlesWithin,
  UndiciDispatcher,
} from './transport.ts';

/** `mesh.dispatcher(options)`. */
export interface MeshDispatcherOptions {
  /**
   * Only these names are services (`http://catalog`, `http://catalog:8080`,
   * `http://catalog.service.consul`); every other host passes through. Default: every dotless
   * host without a port other than `localhost`, and every `<name>.service.consul`.
   */
  services?: readonly string[];
}

const CONSUL_DOMAIN = '.service.consul';

/**
 * The service an origin names, or undefined when it is not one: `http://catalog` and
 * `http://catalog.service.consul` (any port there: the endpoints' ports come from Consul) name
 * `catalog`. A dotless host with a port (`http://redis:6379`, a compose or cluster address) is
 * not taken for a service unless `only` lists it; an https origin, an IP address, `localhost`
 * and other dotted names never are.
 */
export function serviceOf(origin: DispatchOptions['origin'], only?: ReadonlySet<string>): string | undefined {
  if (origin === undefined) return undefined;
  const text = typeof origin === 'string' ? origin : origin.origin;
  if (!text.startsWith('http://')) return undefined;
  let host = text.slice('http://'.length).toLowerCase();
  const end = host.search(/[:/]/);
  const hasPort = end >= 0 && host[end] === ':';
  if (end >= 0) host = host.slice(0, end);
  let name: string;
  if (host.endsWith(CONSUL_DOMAIN)) name = host.slice(0, -CONSUL_DOMAIN.length);
  else if (host === '' || host === 'localhost' || host.includes('.') || host.startsWith('['))
    return undefined;
  else if (hasPort && only === undefined) return undefined;
  else name = host;
  if (only !== undefined) return only.has(name) ? name : undefined;
  return name === '' || name.includes('.') ? undefined : name;
}

// Connection-level headers belong to the hop to the endpoint, which the transport sets itself.
const HOP_HEADERS: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'proxy-connection']);

/** undici's header forms (record, flat array, pairs) as one lower-cased record without a prototype. */
export function headersOf(headers: DispatchOptions['headers']): Record<string, string> {
  const out = nullRecord<string>();
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) addHeader(out, String(headers[i]), headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, unknown]>) addHeader(out, name, value);
  } else {
    const record = headers as Record<string, unknown>;
    for (const name of Object.keys(record)) addHeader(out, name, record[name]);
  }
  return out;
}

function addHeader(out: Record<string, string>, name: string, value: unknown): void {
  if (value === undefined) return;
  const key = name.toLowerCase();
  if (HOP_HEADERS.has(key)) return;
  const text = Array.isArray(value) ? value.join(', ') : String(value);
  out[key] = key in out ? `${out[key]}, ${text}` : text;
}

/** The request target with undici's `query` option folded in. */
function pathWithQuery(opts: DispatchOptions): string {
  const query = opts.query;
  if (query === undefined || query === null) return opts.path;
  const search = new URLSearchParams(query as Record<string, string>).toString();
  if (search === '') return opts.path;
  return `${opts.path}${opts.path.includes('?') ? '&' : '?'}${search}`;
}

/** A streamed body that is short enough, by its content-length, to read whole before sending. */
function collectable(body: unknown, headers: Record<string, string>): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') return false;
  const length = Number(headers['content-length']);
  return Number.isInteger(length) && length >= 0 && length <= REPLAYABLE_BODY_LIMIT;
}

/**
 * `mesh.dispatcher()`: an undici Dispatcher for `fetch(url, { dispatcher })`,
 * `setGlobalDispatcher(...)`, undici's `request`/`stream` and axios's fetch adapter. A request to
 * a service host runs through that service's MeshClient (routes, balancer, breakers, retries,
 * deadline, tracing, metrics) and its answer is fed to the caller's handler; any other host goes
 * to a plain undici Agent untouched. Takes both handler shapes: undici's controller shape and the
 * legacy one Node's built-in fetch passes (wrapped as undici wraps it).
 */
export class MeshDispatcher extends UndiciDispatcher {
  private readonly clientFor: (service: string) => MeshClient;
  private readonly only: ReadonlySet<string> | undefined;
  private readonly agent = new PassThroughAgent();
  private readonly legacyAgent = new LegacyDispatcher(this.agent);
  private closed = false;

  constructor(clientFor: (service: string) => MeshClient, options: MeshDispatcherOptions = {}) {
    super();
    this.clientFor = clientFor;
    this.only = options.services === undefined ? undefined : new Set(options.services);
  }

  override dispatch(opts: DispatchOptions, handler: object): boolean {
    const service = serviceOf(opts.origin, this.only);
    const legacy = isLegacyHandler(handler);
    if (service === undefined) {
      return legacy
        ? this.legacyAgent.dispatch(opts, handler as never)
        : this.agent.dispatch(opts, handler as never);
    }
    const call = new DispatchCall(legacy ? controllerHandler(handler) : (handler as never));
    let client: MeshClient;
    try {
      if (this.closed) throw new ClosedError(`mesh dispatcher is closed (request to ${service})`);
      if (opts.upgrade || opts.method === 'CONNECT') {
        throw new TypeError(
          `mesh.dispatcher(): upgrade and CONNECT to a service (${service}) are not governed`,
        );
      }
      client = this.clientFor(service);
    } catch (error) {
      // Reported through the handler as undici reports a refused request, never thrown.
      queueMicrotask(() => call.abort(error as Error));
      return true;
    }
    const headers = headersOf(opts.headers);
    const init: MeshRequestInit = {
      method: opts.method,
      headers,
      body: (opts.body ?? null) as MeshRequestInit['body'],
    };
    void call.run(client, pathWithQuery(opts), init, collectable(opts.body, headers));
    return true;
  }

  /** As undici's: refuses new requests, and closes the pass-through agent once its requests are done. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closed = true;
    if (callback === undefined) return this.agent.close();
    this.agent.close(callback);
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    this.closed = true;
    const callback = typeof a === 'function' ? a : b;
    const error = typeof a === 'function' ? null : (a ?? null);
    if (callback === undefined) return this.agent.destroy(error);
    this.agent.destroy(error, callback);
  }

  /**
   * close(), bounded: after `graceMs` what is left (a hung upstream, a body nobody reads) is
   * destroyed, so closing never hangs. mesh.close() calls it.
   */
  async closeWithin(graceMs: number): Promise<void> {
    const closing = this.close();
    closing.catch(() => {}); // awaited below, within bounds
    if (!(await settlesWithin(closing, graceMs))) await this.agent.destroy();
  }
}
