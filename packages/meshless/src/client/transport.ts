import { ClosedError, type Endpoint } from '@meshless/core';
import { Agent, type Dispatcher } from 'undici';
import type { TimedAttempt } from './attempt-timeouts.ts';
import { OpenRequests, ResponseHandler, type TransportResponse } from './response-handler.ts';

export interface TransportOptions {
  /** Keep-alive connections per endpoint. Default: unlimited (undici's default). */
  connectionsPerEndpoint?: number;
  /** Idle keep-alive time. Default 30 s. */
  keepAliveMs?: number;
  /** No response headers within this time aborts the attempt (the policy timeout usually fires first). Default 300 s. */
  headersTimeoutMs?: number;
}

export interface SendRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Dispatcher.DispatchOptions['body'];
  /** A live caller or hedge signal: aborts the request, and a streamed body, when it fires. */
  signal?: AbortSignal | undefined;
  /** The attempt's timeout: aborts the request until the call resolves. */
  timed?: TimedAttempt | undefined;
  /** Only the status is wanted (a mirror): the body is dropped as it arrives. */
  discardBody?: boolean;
}

/**
 * HTTP to endpoints over undici, one keep-alive pool per endpoint origin (an undici Agent keys
 * its pools by origin). With response-handler.ts, the only code of the client that uses undici.
 */
export class Transport {
  private readonly agent: Agent;
  private readonly open = new OpenRequests();

  constructor(options: TransportOptions = {}) {
    this.agent = new Agent({
      keepAliveTimeout: options.keepAliveMs ?? 30_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: 0,
      ...(options.connectionsPerEndpoint ? { connections: options.connectionsPerEndpoint } : {}),
    });
  }

  send(endpoint: Endpoint, req: SendRequest): Promise<TransportResponse> {
    const handler = new ResponseHandler(req.method === 'HEAD', req.body, req.discardBody === true);
    if (req.timed) req.timed.target = handler;
    if (req.signal) handler.link(req.signal);
    // Aborted before it was sent: nothing to dispatch.
    if (!handler.aborted) {
      this.open.add(handler);
      this.agent.dispatch(
        {
          origin: originOf(endpoint),
          method: req.method as Dispatcher.HttpMethod,
          path: req.path,
          headers: req.headers,
          body: req.body ?? null,
        },
        handler,
      );
    }
    return handler.promise;
  }

  /**
   * Closes the pools once their requests are done; whatever is still open after `graceMs` (a
   * response body nobody reads, a hung upstream) is destroyed, so closing never hangs.
   */
  async close(graceMs = 0): Promise<void> {
    const closing = this.agent.close();
    closing.catch(() => {}); // awaited below, within bounds
    if (await settlesWithin(closing, graceMs)) return;
    // Abort what is left through its own handler: undici's destroy() does not end a request
    // whose body is paused once close() has begun, but an abort does.
    this.open.abortAll(new ClosedError('the mesh is closing'));
    if (await settlesWithin(closing, 1000)) return;
    await this.agent.destroy();
  }
}

/** Whether `promise` settles within `ms` (the timer does not hold the process open). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, ms, false);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

const origins = new WeakMap<Endpoint, string>();

/** `http://address:port`, computed once per endpoint object (endpoints are immutable). */
export function originOf(endpoint: Endpoint): string {
  let origin = origins.get(endpoint);
  if (origin === undefined) {
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    origin = `http://${host}:${endpoint.port}`;
    origins.set(endpoint, origin);
  }
  return origin;
}
