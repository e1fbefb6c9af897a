import { DeadlineEntry, type DeadlineQueue } from '@meshless/core';

export interface BufferedResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** What the dispatcher hands a handler to steer its request (of undici's DispatchController). */
export interface RequestController {
  abort(reason: Error): void;
}

/**
 * The dispatch callbacks this handler answers (of undici's DispatchHandler): stated here so that
 * only connection.ts, which dispatches on an undici Pool, names undici; the Pool checks the fit.
 */
export interface DispatchCallbacks {
  onRequestStart(controller: RequestController): void;
  onResponseStart(
    controller: RequestController,
    statusCode: number,
    headers: BufferedResponse['headers'],
  ): void;
  onResponseData(controller: RequestController, chunk: Buffer): void;
  onResponseEnd(): void;
  onResponseError(controller: RequestController | null, error: Error): void;
}

/**
 * An undici dispatch handler that collects one whole response (Consul answers with small JSON
 * documents): no Node stream, AsyncResource or options copy per request, which
 * `Dispatcher.request` costs on every blocking-query wake-up. Aborted by the caller's signal in
 * any phase; the handler itself is the signal's listener object. It is also its own entry in the
 * deadline queue of its time limit (no timer or allocation per request), left when the whole
 * answer is in or the request failed.
 */
export class BufferedHandler extends DeadlineEntry implements DispatchCallbacks {
  readonly promise: Promise<BufferedResponse>;
  private resolve!: (response: BufferedResponse) => void;
  private reject!: (error: unknown) => void;
  /** Settled (answered, failed or aborted): later events are ignored. */
  done = false;
  /** Failed by its time limit (the queue's `timeoutMs`) rather than by the caller or the wire. */
  timedOut = false;
  private controller: RequestController | null = null;
  /** Set when aborted before a connection took the request: it is aborted once it starts. */
  private reason: Error | null = null;
  private status = 0;
  private headers: BufferedResponse['headers'] = {};
  private chunks: Buffer[] = [];
  private length = 0;
  private readonly signal: AbortSignal | undefined;
  private readonly deadlines: DeadlineQueue<BufferedHandler> | undefined;

  /** `deadlines`: the queue of the request's time limit, whose expiry calls `expire()`. */
  constructor(signal: AbortSignal | undefined, deadlines?: DeadlineQueue<BufferedHandler>) {
    super();
    this.signal = signal;
    this.deadlines = deadlines;
    this.promise = new Promise<BufferedResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (signal?.aborted) {
      this.abort(signal.reason);
      return;
    }
    signal?.addEventListener('abort', this);
    deadlines?.add(this);
  }

  /** The time limit passed with the answer incomplete: the request is aborted. */
  expire(): void {
    if (this.done) return;
    this.timedOut = true;
    this.abort(new Error(`no answer in ${this.deadlines?.timeoutMs} ms`));
  }

  handleEvent(): void {
    this.abort(this.signal?.reason);
  }

  private abort(reason: unknown): void {
    if (this.done) return;
    const error = reason instanceof Error ? reason : new Error('The request was aborted', { cause: reason });
    if (this.controller) this.controller.abort(error);
    else this.reason = error;
    this.fail(error);
  }

  onRequestStart(controller: RequestController): void {
    if (this.reason) controller.abort(this.reason);
    else this.controller = controller;
  }

  onResponseStart(
    _controller: RequestController,
    statusCode: number,
    headers: BufferedResponse['headers'],
  ): void {
    if (statusCode < 200) return;
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: RequestController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.settle();
    const chunks = this.chunks;
    this.resolve({
      status: this.status,
      headers: this.headers,
      body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.length),
    });
  }

  onResponseError(_controller: RequestController | null, error: Error): void {
    this.fail(error);
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    this.done = true;
    this.signal?.removeEventListener('abort', this);
    this.deadlines?.cancel(this);
  }
}
