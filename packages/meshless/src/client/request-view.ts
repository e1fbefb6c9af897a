import type { RouteRequest } from '@meshless/canary';

/** What `new Headers(init)` accepts: a Headers, an array of pairs or a record. */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** Headers as the caller gave them, normalised once per call to a lower-cased record. */
export function normalizeHeaders(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
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
    return this.headers[name];
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
    body instanceof URLSearchParams
  );
}
