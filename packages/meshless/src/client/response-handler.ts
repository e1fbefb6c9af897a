import { Readable } from 'node:stream';

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** One answer from an endpoint, as the client needs it. */
export interface TransportResponse {
  readonly status: number;
  readonly statusText: string | undefined;
  readonly headers: ResponseHeaders;
  /**
   * The whole body when it is small (or the answer a 5xx), a stream when large or unsized, null
   * when none. A whole body may view a socket buffer: copy before handing it out.
   */
  readonly body: Uint8Array | Readable | null;
}

/** Something an attempt timeout or a caller's signal can abort. */
export interface Abortable {
  abort(reason: unknown): void;
}

/** Bodies up to this size (by content-length) are read whole before the call resolves. */
export const BUFFER_LIMIT = 64 * 1024;

function ignore(): void {}

/** What the dispatcher hands a handler to steer its request (of undici's DispatchController). */
export interface RequestController {
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

/**
 * The dispatch callbacks this handler answers (of undici's DispatchHandler): stated here so that
 * only transport.ts, whose undici Agent calls them, names undici; the Agent checks the fit.
 */
export interface DispatchCallbacks {
  onRequestStart(controller: RequestController): void;
  onResponseStart(
    controller: RequestController,
    statusCode: number,
    headers: ResponseHeaders,
    statusText?: string,
  ): void;
  onResponseData(controller: RequestController, chunk: Buffer): void;
  onResponseEnd(): void;
  onResponseError(controller: RequestController | null, error: Error): void;
}

/**
 * An error named and coded as undici's own (RequestAbortedError, SocketError): undici and this
 * client tell errors by `name` and `code` (see transport.ts), never by class.
 */
function undiciLikeError(name: string, code: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, { code });
}

const requestAborted = (): Error => undiciLikeError('AbortError', 'UND_ERR_ABORTED', 'Request aborted');

/** Statuses whose responses carry no body (fetch's null body statuses). */
export const NULL_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

// Where a response is: waiting for its head, buffering, streaming, discarding, or finished.
const WAITING = 0;
const BUFFERING = 1;
const STREAMING = 2;
const DISCARDING = 3;
const DONE = 4;

/**
 * An undici dispatch handler that receives one response straight from the connection: a small
 * body is collected into one buffer (no Node stream, no AsyncResource, no abort-signal listener
 * per call, which `Dispatcher.request` costs), a large one is handed out as a Readable with
 * back-pressure. `abort()` works in every phase, so attempt timeouts and caller signals need no
 * AbortController. The caller's async context is kept by the awaiting frame, not by undici.
 */
export class ResponseHandler implements DispatchCallbacks, Abortable {
  readonly promise: Promise<TransportResponse>;
  private resolve!: (response: TransportResponse) => void;
  private reject!: (error: unknown) => void;
  private settled = false;
  private state = WAITING;
  private controller: RequestController | null = null;
  /** Set when aborted before a connection took the request: it is aborted once it starts. */
  private reason: Error | null = null;
  private status = 0;
  private statusText: string | undefined;
  private headers: ResponseHeaders = {};
  private chunks: Buffer | Buffer[] | null = null;
  private length = 0;
  private stream: Readable | null = null;
  private signal: AbortSignal | null = null;
  /** Its place in the transport's list of open requests (so close() can end what is left). */
  list: OpenRequests | null = null;
  prevOpen: ResponseHandler | null = null;
  nextOpen: ResponseHandler | null = null;

  constructor(
    private readonly head: boolean,
    /** The request body: a Node stream is destroyed when the request fails. */
    private readonly requestBody: unknown,
    /** A mirror: the caller wants the status only, never the body. */
    private readonly discard: boolean,
  ) {
    this.promise = new Promise<TransportResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Aborts with the signal's reason when it fires (the handler is the listener object). */
  link(signal: AbortSignal): void {
    if (signal.aborted) {
      this.abort(signal.reason);
      return;
    }
    this.signal = signal;
    signal.addEventListener('abort', this);
  }

  handleEvent(): void {
    this.abort(this.signal?.reason);
  }

  get aborted(): boolean {
    return this.reason !== null || this.state === DONE;
  }

  /** The call rejects with `reason` as given (as fetch does); undici gets an Error made of it. */
  abort(reason: unknown): void {
    if (this.state === DONE) return;
    const error = reason instanceof Error ? reason : requestAborted();
    const controller = this.controller;
    if (!controller) this.reason = error;
    // Settle first: undici reports the abort back through onResponseError, which then finds it done.
    this.fail(error, reason === undefined ? error : reason);
    controller?.abort(error);
  }

  onRequestStart(controller: RequestController): void {
    if (this.reason) controller.abort(this.reason);
    else this.controller = controller;
  }

  onResponseStart(
    controller: RequestController,
    statusCode: number,
    headers: ResponseHeaders,
    statusText?: string,
  ): void {
    if (statusCode < 200 || this.state !== WAITING) return;
    this.status = statusCode;
    this.statusText = statusText || undefined;
    this.headers = headers;
    if (this.discard || this.head || NULL_BODY_STATUS.has(statusCode)) {
      this.state = DISCARDING;
      this.answer(null);
      return;
    }
    const length = headers['content-length'];
    // A 5xx is read whole: it is a result a retry may drop, and its connection must be freed.
    if (statusCode >= 500 || (typeof length === 'string' && Number(length) <= BUFFER_LIMIT)) {
      this.state = BUFFERING;
      return;
    }
    this.state = STREAMING;
    this.stream = new Readable({
      read: () => controller.resume(),
      destroy: (error, callback) => {
        // The reader gave up (cancel, destroy): stop receiving and free the connection.
        if (this.state === STREAMING) {
          this.finish();
          controller.abort(error ?? requestAborted());
        }
        callback(error);
      },
    });
    // A body nobody reads may still fail (reset, abort, close): readers get the error when they
    // read; it must not surface as an unhandled 'error' event.
    this.stream.on('error', ignore);
    this.answer(this.stream);
  }

  onResponseData(controller: RequestController, chunk: Buffer): void {
    if (this.state === BUFFERING) {
      this.length += chunk.length;
      const chunks = this.chunks;
      if (chunks === null) this.chunks = chunk;
      else if (Array.isArray(chunks)) chunks.push(chunk);
      else this.chunks = [chunks, chunk];
    } else if (this.state === STREAMING) {
      if (!this.stream!.push(chunk)) controller.pause();
    }
  }

  onResponseEnd(): void {
    const state = this.state;
    if (state === WAITING) {
      this.fail(undiciLikeError('SocketError', 'UND_ERR_SOCKET', 'the response ended before its head'));
      return;
    }
    this.finish();
    if (state === BUFFERING) {
      const chunks = this.chunks;
      this.chunks = null;
      // No copy: a single chunk stays a view into the socket's read buffer, and the response
      // copies only what it hands out (text and JSON decode straight from the view).
      this.answer(
        chunks === null
          ? new Uint8Array(0)
          : Array.isArray(chunks)
            ? Buffer.concat(chunks, this.length)
            : chunks,
      );
    } else if (state === STREAMING) this.stream!.push(null);
  }

  onResponseError(_controller: RequestController | null, error: Error): void {
    this.fail(error);
    // A Node stream body is destroyed, its own error swallowed: the call's rejection reports it.
    const body = this.requestBody as Readable | null;
    if (body !== null && typeof body === 'object' && typeof body.pipe === 'function' && !body.destroyed)
      body.on('error', ignore).destroy(error);
  }

  private answer(body: Uint8Array | Readable | null): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve({ status: this.status, statusText: this.statusText, headers: this.headers, body });
  }

  private fail(error: Error, rejection: unknown = error): void {
    const state = this.state;
    if (state === DONE) return;
    this.finish();
    this.chunks = null;
    if (state === STREAMING) this.stream!.destroy(rejection instanceof Error ? rejection : error);
    if (!this.settled) {
      this.settled = true;
      this.reject(rejection);
    }
  }

  private finish(): void {
    this.state = DONE;
    this.list?.remove(this);
    if (this.signal) {
      this.signal.removeEventListener('abort', this);
      this.signal = null;
    }
  }
}

/** The requests of a transport that are not done yet: an intrusive list (no allocation per call). */
export class OpenRequests {
  private head: ResponseHandler | null = null;

  add(handler: ResponseHandler): void {
    handler.list = this;
    handler.nextOpen = this.head;
    if (this.head) this.head.prevOpen = handler;
    this.head = handler;
  }

  remove(handler: ResponseHandler): void {
    if (handler.prevOpen) handler.prevOpen.nextOpen = handler.nextOpen;
    else if (this.head === handler) this.head = handler.nextOpen;
    if (handler.nextOpen) handler.nextOpen.prevOpen = handler.prevOpen;
    handler.prevOpen = null;
    handler.nextOpen = null;
    handler.list = null;
  }

  get size(): number {
    let n = 0;
    for (let h = this.head; h; h = h.nextOpen) n++;
    return n;
  }

  /** Aborts every open request (each one unlinks itself as it ends). */
  abortAll(reason: Error): void {
    let handler = this.head;
    while (handler) {
      const next = handler.nextOpen;
      handler.abort(reason);
      handler = next;
    }
  }
}
