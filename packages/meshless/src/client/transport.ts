import type { Endpoint } from '@meshless/core';
import { Agent, type Dispatcher } from 'undici';
import type { LiteAbortSignal } from './attempt-timeouts.ts';

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
  /** A real AbortSignal, or the light handle of an attempt timeout (same shape for undici). */
  signal: AbortSignal | LiteAbortSignal | undefined;
}

/**
 * HTTP to endpoints over undici, one keep-alive pool per endpoint origin (an undici Agent keys
 * its pools by origin). The only file of the client that imports undici.
 */
export class Transport {
  private readonly agent: Agent;

  constructor(options: TransportOptions = {}) {
    this.agent = new Agent({
      keepAliveTimeout: options.keepAliveMs ?? 30_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: 0,
      ...(options.connectionsPerEndpoint ? { connections: options.connectionsPerEndpoint } : {}),
    });
  }

  send(endpoint: Endpoint, req: SendRequest): Promise<Dispatcher.ResponseData> {
    return this.agent.request({
      origin: originOf(endpoint),
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal as AbortSignal | undefined,
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  destroy(): Promise<void> {
    return this.agent.destroy();
  }
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
