import type { Readable } from 'node:stream';
import type { MeshClient } from './mesh-client.ts';
import { type ResponseParts, takeResponseParts } from './mesh-response.ts';
import type { MeshRequestInit } from './request-init.ts';
import type { ControllerHandler, DispatchController } from './transport.ts';

type RawHeaders = Record<string, string | string[] | undefined>;

/** Bodies of a known length up to this size are read whole first, so a retry can send them again. */
export const REPLAYABLE_BODY_LIMIT = 64 * 1024;

function abortedError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return Object.assign(error, { code: 'UND_ERR_ABORTED' });
}

/**
 * One request that mesh.dispatcher() governs: runs it through the service's MeshClient (every
 * stage: route, headers, policies, attempts) and feeds the answer to the caller's undici handler
 * as a connection would (start, response head, data, end or error), from the MeshResponse's
 * parts: no Headers object and no ReadableStream per call. It is the handler's controller too.
 */
export class DispatchCall implements DispatchController {
  private readonly handler: ControllerHandler;
  private readonly cancel = new AbortController();
  private done = false;
  private isPaused = false;
  private failure: Error | null = null;
  private source: Readable | null = null;

  constructor(handler: ControllerHandler) {
    this.handler = handler;
  }

  get aborted(): boolean {
    return this.failure !== null;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.failure;
  }

  /** Runs the call in the background; whatever happens ends in the handler, never as a rejection. */
  async run(client: MeshClient, path: string, init: MeshRequestInit, collect: boolean): Promise<void> {
    try {
      this.handler.onRequestStart?.(this, {});
      if (this.done) return;
      init.signal = this.cancel.signal;
      // A small body of known length (Node's fetch always streams one) becomes bytes: replayable.
      if (collect) init.body = await collectBody(init.body as AsyncIterable<Uint8Array>);
      const response = await client.fetch(path, init);
      if (this.done) {
        void response.body?.cancel().catch(ignore);
        return;
      }
      this.respond(response.status, takeResponseParts(response) ?? (await partsOf(response)));
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  abort(reason?: Error): void {
    if (this.done) return;
    const error = reason ?? abortedError();
    this.failure = error;
    this.cancel.abort(error);
    this.source?.destroy();
    this.fail(error);
  }

  pause(): void {
    this.isPaused = true;
    this.source?.pause();
  }

  resume(): void {
    this.isPaused = false;
    this.source?.resume();
  }

  private respond(status: number, parts: ResponseParts): void {
    const handler = this.handler;
    handler.onResponseStarted?.();
    handler.onResponseStart?.(this, status, parts.headers as never, parts.statusText);
    if (this.done) return;
    const body = parts.body;
    if (body === null || body instanceof Uint8Array) {
      // The buffered body may view a socket's read buffer: the handler gets its own copy.
      if (body !== null) handler.onResponseData?.(this, Buffer.from(body));
      this.end();
    } else {
      this.stream(body);
    }
  }

  /** A large or unsized body, chunk by chunk, with the handler's pause and resume. */
  private stream(source: Readable): void {
    this.source = source;
    source.on('data', (chunk: Buffer) => {
      if (!this.done) this.handler.onResponseData?.(this, chunk);
    });
    source.once('end', () => this.end());
    source.once('error', (error) => this.fail(error));
    source.once('close', () => {
      if (!this.done) this.fail(abortedError());
    });
    if (this.isPaused) source.pause();
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.handler.onResponseEnd?.(this, {});
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.source?.destroy();
    try {
      this.handler.onResponseError?.(this, error);
    } catch {
      // A handler that throws from its error callback has nowhere else to report to.
    }
  }
}

function ignore(): void {}

/** A Response that is not a MeshResponse (an injected fault's answer): its parts, read whole. */
async function partsOf(response: Response): Promise<ResponseParts> {
  const headers: RawHeaders = Object.create(null);
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = response.body === null ? null : new Uint8Array(await response.arrayBuffer());
  return { statusText: response.statusText, headers, body };
}

async function collectBody(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    length += bytes.byteLength;
    // The content-length was a promise, not a bound: a longer body is refused rather than buffered.
    if (length > REPLAYABLE_BODY_LIMIT) throw new RangeError('request body longer than its content-length');
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, length);
}
