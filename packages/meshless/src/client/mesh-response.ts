import { Readable } from 'node:stream';
import { NULL_BODY_STATUS } from './response-handler.ts';

type RawHeaders = Record<string, string | string[] | undefined>;

const decoder = new TextDecoder();

/** What a MeshResponse holds beside the platform's own state. */
interface BodyState {
  readonly statusText: string;
  readonly raw: RawHeaders;
  readonly nullBody: boolean;
  /** Where the answer came from (`http://10.0.0.7:8080`) and the request's path: `url` joins them on demand. */
  readonly origin: string;
  readonly path: string;
  /** A buffered body, borrowed: it may view a socket's read buffer, so it is copied on hand-out. */
  bytes: Uint8Array | undefined;
  source: Readable | undefined;
  headers: Headers | undefined;
  stream: ReadableStream<Uint8Array> | null | undefined;
  used: boolean;
}

const STATE = Symbol('meshless.response');

/**
 * A WHATWG Response (`instanceof Response` holds) over an undici response, built without the
 * cost of the platform constructor's body stream (several µs per response): headers are built
 * on first access, a buffered body is handed out as is, and `body` becomes a ReadableStream only
 * when someone asks for the stream. The overrides are installed on the prototype below (the
 * platform declares these members as properties, which a class body may not redefine).
 */
export class MeshResponse extends Response {
  readonly [STATE]: BodyState;

  constructor(
    status: number,
    statusText: string | undefined,
    raw: RawHeaders,
    body: Uint8Array | Readable | null,
    origin = '',
    path = '',
  ) {
    super(null, initFor(status));
    this[STATE] = {
      statusText: statusText ?? '',
      raw,
      nullBody: body === null || NULL_BODY_STATUS.has(status),
      origin,
      path,
      bytes: body instanceof Uint8Array ? body : undefined,
      source: body !== null && !(body instanceof Uint8Array) ? body : undefined,
      headers: undefined,
      stream: undefined,
      used: false,
    };
  }
}

/** A MeshResponse's answer as undici gave it, for a dispatch handler (mesh.dispatcher()). */
export interface ResponseParts {
  readonly statusText: string;
  readonly headers: RawHeaders;
  /** Buffered bytes (borrowed: copy before handing out), a stream, or null. */
  readonly body: Uint8Array | Readable | null;
}

/**
 * The parts of an unread MeshResponse, taken (the response counts as used), so a dispatch handler
 * is fed without building Headers or a ReadableStream; undefined for any other Response.
 */
export function takeResponseParts(response: Response): ResponseParts | undefined {
  if (!(response instanceof MeshResponse)) return undefined;
  const s = response[STATE];
  if (used(s) || s.stream !== undefined) return undefined;
  s.used = true;
  const body = s.nullBody ? null : (s.bytes ?? s.source ?? null);
  s.bytes = undefined;
  s.source = undefined;
  return { statusText: s.statusText, headers: s.raw, body };
}

// One frozen init per status: the platform constructor only reads it.
const inits: ResponseInit[] = [];
function initFor(status: number): ResponseInit {
  let init = inits[status];
  if (init === undefined) {
    init = Object.freeze({ status });
    inits[status] = init;
  }
  return init;
}

function headersOf(s: BodyState): Headers {
  if (s.headers === undefined) {
    const headers = new Headers();
    const raw = s.raw;
    for (const name in raw) {
      const value = raw[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.append(name, value);
    }
    s.headers = headers;
  }
  return s.headers;
}

function streamOf(s: BodyState): ReadableStream<Uint8Array> | null {
  if (s.nullBody) return null;
  if (s.stream === undefined) {
    const bytes = s.bytes;
    s.stream =
      bytes !== undefined
        ? new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new Uint8Array(bytes));
              controller.close();
            },
          })
        : (Readable.toWeb(s.source!) as ReadableStream<Uint8Array>);
    s.bytes = undefined;
    s.source = undefined;
  }
  return s.stream;
}

function used(s: BodyState): boolean {
  return s.used || (s.stream?.locked ?? false);
}

/** The body at once when it is buffered (the common case), else undefined; marks it used. */
function takeBuffered(s: BodyState): Uint8Array<ArrayBuffer> | undefined {
  if (used(s) || (!s.nullBody && s.bytes === undefined)) return undefined;
  s.used = true;
  if (s.nullBody) return new Uint8Array(0);
  const bytes = s.bytes as Uint8Array<ArrayBuffer>;
  s.bytes = undefined;
  return bytes;
}

/** An owned copy as an ArrayBuffer (one copy; `.buffer` of a socket or pool view is cheap to reach). */
function toArrayBuffer(bytes: Uint8Array<ArrayBuffer>): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/** An owned copy, as a plain Uint8Array (`slice` on a Buffer would be a view). */
function toOwned(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

async function bytesOf(s: BodyState): Promise<Uint8Array<ArrayBuffer>> {
  const buffered = takeBuffered(s);
  if (buffered !== undefined) return buffered;
  if (used(s)) throw new TypeError('Body is unusable: Body has already been read');
  s.used = true;
  if (s.source !== undefined) {
    const source = s.source;
    s.source = undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk as Buffer);
    const buf = Buffer.concat(chunks);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(await new Response(s.stream!).arrayBuffer());
}

Object.defineProperties(MeshResponse.prototype, {
  // The endpoint that answered, as WHATWG fetch's `url` (the final URL): handy in logs.
  url: {
    get(this: MeshResponse) {
      const s = this[STATE];
      return s.origin + s.path;
    },
  },
  // Kept here rather than given to the platform constructor, which validates it per call.
  statusText: {
    get(this: MeshResponse) {
      return this[STATE].statusText;
    },
  },
  headers: {
    get(this: MeshResponse) {
      return headersOf(this[STATE]);
    },
  },
  body: {
    get(this: MeshResponse) {
      return streamOf(this[STATE]);
    },
  },
  bodyUsed: {
    get(this: MeshResponse) {
      return used(this[STATE]);
    },
  },
  // Buffered bodies (the common case) answer without an async frame of their own.
  bytes: {
    value(this: MeshResponse) {
      const s = this[STATE];
      const buffered = takeBuffered(s);
      return buffered !== undefined ? Promise.resolve(toOwned(buffered)) : bytesOf(s).then(toOwned);
    },
  },
  arrayBuffer: {
    value(this: MeshResponse) {
      const s = this[STATE];
      const buffered = takeBuffered(s);
      return buffered !== undefined
        ? Promise.resolve(toArrayBuffer(buffered))
        : bytesOf(s).then(toArrayBuffer);
    },
  },
  text: {
    value(this: MeshResponse) {
      const s = this[STATE];
      const buffered = takeBuffered(s);
      return buffered !== undefined
        ? Promise.resolve(decoder.decode(buffered))
        : bytesOf(s).then((b) => decoder.decode(b));
    },
  },
  json: {
    value(this: MeshResponse) {
      const s = this[STATE];
      try {
        const buffered = takeBuffered(s);
        if (buffered !== undefined) return Promise.resolve(JSON.parse(decoder.decode(buffered)));
      } catch (error) {
        return Promise.reject(error);
      }
      return bytesOf(s).then((b) => JSON.parse(decoder.decode(b)));
    },
  },
  blob: {
    async value(this: MeshResponse) {
      const s = this[STATE];
      return new Blob([await bytesOf(s)], { type: headersOf(s).get('content-type') ?? '' });
    },
  },
  formData: {
    value(this: MeshResponse) {
      const s = this[STATE];
      return new Response(streamOf(s), { status: this.status, headers: headersOf(s) }).formData();
    },
  },
  clone: {
    value(this: MeshResponse) {
      const s = this[STATE];
      if (used(s)) throw new TypeError('Response.clone: Body has already been consumed');
      if (s.nullBody || s.bytes !== undefined)
        return new MeshResponse(
          this.status,
          this.statusText,
          s.raw,
          s.nullBody ? null : s.bytes!,
          s.origin,
          s.path,
        );
      const [a, b] = streamOf(s)!.tee();
      s.stream = a;
      return new Response(b, { status: this.status, statusText: this.statusText, headers: headersOf(s) });
    },
  },
});
