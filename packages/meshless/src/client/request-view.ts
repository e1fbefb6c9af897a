import type { RouteRequest } from '@meshless/canary';
import { nullRecord } from '@meshless/core';

/** What `new Headers(init)` accepts: a Headers, an array of pairs or a record. */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

/**
 * Headers as the caller gave them, normalised once per call to a lower-cased record without a
 * prototype: a route or hash key on `constructor` finds only a header of that name.
 */
export function normalizeHeaders(init: HeadersInit | undefined): Record<string, string> {
  const out = nullRecord<string>();
  if (init === undefined) return out;
  if (init instanceof Headers) {
    init.forEach((value, name) => {
      out[name] = value;
    });
  } else if (Array.isArray(init)) {
    for (const [name, value] of init as [string, string][]) {
      const key = name.toLowerCase();
      out[key] = key in out ? `${out[key]}, ${value}` : value;
    }
  } else {
    for (const [name, value] of Object.entries(init)) {
      if (value !== undefined) out[name.toLowerCase()] = String(value);
    }
  }
  return out;
}

/** The route engine's view of an outgoing request, without copying anything. */
export class OutgoingRequestView implements RouteRequest {
  readonly method: string;
  readonly path: string;
  readonly caller: string | undefined;
  private readonly headers: Record<string, string>;

  constructor(method: string, path: string, headers: Record<string, string>, caller: string | undefined) {
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.caller = caller;
  }

  get query(): URLSearchParams | undefined {
    const q = this.path.indexOf('?');
    return q < 0 ? undefined : new URLSearchParams(this.path.slice(q + 1));
  }

  header(name: string): string | undefined {
    // Own properties only, also for a record not made by normalizeHeaders.
    return Object.hasOwn(this.headers, name) ? this.headers[name] : undefined;
  }
}

/** Whether a request body can be sent again (a retry, a hedge, a mirror). Streams cannot. */
export function isReplayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob
  );
}

/** What undici sends: bytes, a string, a Blob, or a stream. */
export type SendableBody =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream
  | NodeJS.ReadableStream
  | null;

const TEXT = 'text/plain;charset=UTF-8';
const FORM = 'application/x-www-form-urlencoded;charset=UTF-8';

/**
 * A `fetch` body as undici sends it, with the content-type WHATWG fetch would set when the caller
 * set none (text for a string, urlencoded for URLSearchParams, the Blob's type, multipart with its
 * boundary for FormData). FormData is encoded here (once, so a retry can send it again).
 */
export function prepareBody(
  body: unknown,
  headers: Record<string, string>,
): SendableBody | Promise<SendableBody> {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') {
    headers['content-type'] ??= TEXT;
    return body;
  }
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) return body;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= FORM;
    return body.toString();
  }
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Blob) {
    if (body.type) headers['content-type'] ??= body.type;
    return body;
  }
  if (body instanceof FormData) {
    const encoded = new Response(body);
    headers['content-type'] ??= encoded.headers.get('content-type')!;
    return encoded.arrayBuffer().then((bytes) => new Uint8Array(bytes));
  }
  return body as SendableBody;
}

const ABSOLUTE = /^[a-z][a-z\d+.-]*:\/\//i;

/**
 * The request target for a call: `/items/1` as is, `items/1` as `/items/1`, and an absolute URL
 * (a string or a URL, e.g. `http://catalog/items/1`) by its path and query. The client's service
 * decides where the call goes, never the URL's host.
 */
export function pathOf(target: string | URL): string {
  if (target instanceof URL) return target.pathname + target.search;
  if (typeof target !== 'string') throw new TypeError(`fetch: expected a path or URL, got ${typeof target}`);
  if (ABSOLUTE.test(target)) {
    const url = new URL(target);
    return url.pathname + url.search;
  }
  return target.startsWith('/') ? target : `/${target}`;
}
