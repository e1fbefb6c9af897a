import type { Clock, Random } from '@meshless/core';
import { ConfigError, ConsulError, ConsulPermissionError, DeadlineQueue } from '@meshless/core';
import { Pool } from 'undici';
import { consulPermissionText, requiredPermission } from './acl-permission.ts';
import { loadAgentTls, readTokenFile, tlsHint } from './agent-tls.ts';
import { BufferedHandler } from './buffered-handler.ts';
import { ReachabilityProbe } from './reachability-probe.ts';

/** How to reach a Consul agent. Every field falls back to the standard CONSUL_HTTP_* environment. */
export interface ConsulOptions {
  /** `host:port` or a URL (`https://consul.internal:8501`). Default: CONSUL_HTTP_ADDR or 127.0.0.1:8500. */
  address?: string;
  /**
   * ACL token, sent in the `X-Consul-Token` header only (never in a URL, a log line or an error).
   * Default: `tokenFile`, else CONSUL_HTTP_TOKEN, else the file CONSUL_HTTP_TOKEN_FILE names.
   */
  token?: string;
  /** A file holding the ACL token, read once at start and trimmed. Default: CONSUL_HTTP_TOKEN_FILE. */
  tokenFile?: string;
  /** Use HTTPS. Default: CONSUL_HTTP_SSL, or true when the address starts with https://. */
  ssl?: boolean;
  /** PEM file of the CA that signed the agent's certificate. Default: CONSUL_CACERT. */
  caFile?: string;
  /**
   * A directory of CA certificates: every `*.pem` and `*.crt` in it (at most 256 files of at most
   * 1 MiB each), trusted besides `caFile`. Default: CONSUL_CAPATH.
   */
  caPath?: string;
  /** PEM client certificate, for an agent with `verify_incoming`. Default: CONSUL_CLIENT_CERT. */
  certFile?: string;
  /** PEM private key of `certFile`. Default: CONSUL_CLIENT_KEY. */
  keyFile?: string;
  /** The name to verify the agent's certificate against (SNI). Default: CONSUL_TLS_SERVER_NAME, else the address's host. */
  tlsServerName?: string;
  /** Verify the agent's certificate. Default: CONSUL_HTTP_SSL_VERIFY, else true. */
  verify?: boolean;
  /** Datacenter for catalog/health/KV reads. Default: the agent's own. */
  datacenter?: string;
}

export interface ResolvedConsulOptions {
  readonly origin: string;
  readonly token: string | undefined;
  readonly caFile: string | undefined;
  readonly caPath: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly tlsServerName: string | undefined;
  readonly verify: boolean;
  readonly datacenter: string | undefined;
}

/** Merges explicit options with the CONSUL_HTTP_* environment (explicit wins). */
export function resolveConsulOptions(
  options: ConsulOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConsulOptions {
  const raw = options.address ?? env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500';
  const hasScheme = /^[a-z]+:\/\//i.test(raw);
  const envSsl = parseBool(env.CONSUL_HTTP_SSL);
  const ssl = options.ssl ?? (hasScheme ? raw.toLowerCase().startsWith('https://') : (envSsl ?? false));
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `${ssl ? 'https' : 'http'}://${raw}`);
  } catch (cause) {
    throw new ConfigError(`consul.address: not a host:port or URL: ${JSON.stringify(raw)}`, {
      path: 'consul.address',
      cause,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`consul.address: unsupported scheme ${url.protocol}`, { path: 'consul.address' });
  }
  if (options.ssl !== undefined) url.protocol = options.ssl ? 'https:' : 'http:';
  return {
    origin: url.origin,
    token: resolveToken(options, env),
    caFile: options.caFile ?? (env.CONSUL_CACERT || undefined),
    caPath: options.caPath ?? (env.CONSUL_CAPATH || undefined),
    certFile: options.certFile ?? (env.CONSUL_CLIENT_CERT || undefined),
    keyFile: options.keyFile ?? (env.CONSUL_CLIENT_KEY || undefined),
    tlsServerName: options.tlsServerName ?? (env.CONSUL_TLS_SERVER_NAME || undefined),
    verify: options.verify ?? parseBool(env.CONSUL_HTTP_SSL_VERIFY) ?? true,
    datacenter: options.datacenter,
  };
}

/** Explicit options before the environment; a token before a token file at each level. */
function resolveToken(options: ConsulOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (options.token !== undefined) return options.token || undefined;
  if (options.tokenFile !== undefined)
    return readTokenFile(options.tokenFile, 'tokenFile', 'CONSUL_HTTP_TOKEN_FILE');
  if (env.CONSUL_HTTP_TOKEN) return env.CONSUL_HTTP_TOKEN;
  if (env.CONSUL_HTTP_TOKEN_FILE)
    return readTokenFile(env.CONSUL_HTTP_TOKEN_FILE, 'tokenFile', 'CONSUL_HTTP_TOKEN_FILE');
  return undefined;
}

function parseBool(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return /^(1|true|yes|on)$/i.test(value);
}

export interface ConsulRequest {
  method?: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /**
   * Fail (and abort) the request when its whole answer, headers and body, is not in this many ms
   * after the call; a finite number above 0. Default: no limit. A blocking query's is its wait
   * plus slack.
   */
  timeoutMs?: number;
}

export interface ConsulResponse {
  readonly status: number;
  /** X-Consul-Index, or undefined when absent. */
  readonly index: number | undefined;
  readonly body: Buffer;
  header(name: string): string | undefined;
}

/**
 * One keep-alive connection pool to one Consul agent, speaking HTTP API v1 only (so Consul 1.8
 * to 1.21 are served). Returns responses of any status; `json()` / `ok()` helpers throw
 * ConsulError for the others.
 */
export class ConsulConnection {
  readonly options: ResolvedConsulOptions;
  private readonly pool: Pool;
  private closed = false;
  /**
   * A deadline queue per distinct time limit, on precise unref'd timers: undici's own headers and
   * body timeouts step on a coarse wheel (a 200 ms limit fired after about a second). Callers
   * use a few fixed limits, so few queues, each with one timer for all its requests.
   */
  private readonly deadlines = new Map<number, DeadlineQueue<BufferedHandler>>();
  private probe: ReachabilityProbe | undefined;

  /** The clock and randomness of the reachability probe (whenAnswering). */
  private readonly runtime: { clock?: Clock; random?: Random };

  constructor(
    options: ConsulOptions | ResolvedConsulOptions = {},
    runtime: { clock?: Clock; random?: Random } = {},
  ) {
    // A plain field, not a parameter property: the discovery worker loads this file with Node's type stripping.
    this.runtime = runtime;
    this.options = 'origin' in options ? options : resolveConsulOptions(options);
    const { ca, cert, key } = loadAgentTls(this.options);
    const servername = this.options.tlsServerName;
    this.pool = new Pool(this.options.origin, {
      connect: {
        ...(ca ? { ca } : {}),
        ...(cert && key ? { cert, key } : {}),
        ...(servername ? { servername } : {}),
        rejectUnauthorized: this.options.verify,
      },
      keepAliveTimeout: 30_000,
      // Blocking queries hold a response open for up to wait + wait/16: each request has its own
      // limit (timeoutMs), enforced by the deadline queues, not by undici's timers.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  get address(): string {
    return this.options.origin;
  }

  async request(req: ConsulRequest): Promise<ConsulResponse> {
    if (this.closed) throw new ConsulError('consul connection is closed', { retryable: false });
    let path = req.path;
    const params = new URLSearchParams();
    if (this.options.datacenter && !(req.query && 'dc' in req.query))
      params.set('dc', this.options.datacenter);
    if (req.query) {
      for (const [k, v] of Object.entries(req.query)) {
        if (v === undefined || v === false) continue;
        params.set(k, v === true ? '' : String(v));
      }
    }
    const qs = params.toString().replace(/=(&|$)/g, '$1');
    if (qs) path += `${path.includes('?') ? '&' : '?'}${qs}`;
    const headers: Record<string, string> = {};
    if (this.options.token) headers['x-consul-token'] = this.options.token;
    // The handler is its own deadline entry: no timer, controller or composite signal per request.
    const handler = new BufferedHandler(
      req.signal,
      req.timeoutMs === undefined ? undefined : this.deadlinesFor(req.timeoutMs),
    );
    try {
      if (!handler.done)
        this.pool.dispatch({ method: req.method ?? 'GET', path, headers, body: req.body ?? null }, handler);
      const res = await handler.promise;
      const body = res.body;
      const rawIndex = res.headers['x-consul-index'];
      const index =
        rawIndex === undefined ? undefined : Number(Array.isArray(rawIndex) ? rawIndex[0] : rawIndex);
      const resHeaders = res.headers;
      return {
        status: res.status,
        index: Number.isFinite(index) ? index : undefined,
        body,
        header: (name) => {
          const v = resHeaders[name.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        },
      };
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason ?? error;
      if (ConsulErrorIs(error)) throw error;
      const what = handler.timedOut
        ? `no answer in ${req.timeoutMs} ms`
        : ((error as { code?: string }).code ?? (error as Error).message);
      throw new ConsulError(`consul ${req.method ?? 'GET'} ${req.path}: ${what}${tlsHint(what)}`, {
        cause: error,
      });
    }
  }

  /** A request whose answer must be 2xx; returns the parsed JSON body (undefined for an empty one). */
  async json<T>(req: ConsulRequest): Promise<T> {
    const res = await this.request(req);
    if (res.status < 200 || res.status >= 300) throw statusError(req, res);
    const text = res.body.toString('utf8');
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Resolves once the agent has a leader again (one shared ReachabilityProbe); rejects on abort/close. */
  whenAnswering(signal?: AbortSignal): Promise<void> {
    if (this.closed)
      return Promise.reject(new ConsulError('consul connection is closed', { retryable: false }));
    this.probe ??= new ReachabilityProbe(this, this.runtime);
    return this.probe.whenAnswering(signal);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.probe?.dispose();
    // No timer outlives the connection; destroying the pool fails what is still in flight.
    for (const queue of this.deadlines.values()) queue.dispose();
    this.deadlines.clear();
    await this.pool.destroy();
  }

  private deadlinesFor(timeoutMs: number): DeadlineQueue<BufferedHandler> {
    let queue = this.deadlines.get(timeoutMs);
    if (queue !== undefined) return queue;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`consul request timeoutMs: a finite number above 0, got ${timeoutMs}`);
    }
    // A caller with ever-new limits must not grow the map without end: idle queues go first.
    if (this.deadlines.size >= MAX_IDLE_DEADLINE_QUEUES) {
      for (const [ms, idle] of this.deadlines) {
        if (idle.size > 0) continue;
        idle.dispose();
        this.deadlines.delete(ms);
      }
    }
    queue = new DeadlineQueue<BufferedHandler>(timeoutMs, expire);
    this.deadlines.set(timeoutMs, queue);
    return queue;
  }
}

/** Distinct time limits kept when idle; callers use a handful (5 s, 15 s, a blocking wait + slack). */
const MAX_IDLE_DEADLINE_QUEUES = 16;

function expire(handler: BufferedHandler): void {
  handler.expire();
}

function ConsulErrorIs(error: unknown): boolean {
  return error instanceof ConsulError;
}

/**
 * The error for a non-2xx answer. A 403 is a ConsulPermissionError naming the permission the token
 * lacks. The message holds the method, the path (never the query) and Consul's text, not the token.
 */
export function statusError(req: ConsulRequest, res: ConsulResponse): ConsulError {
  const method = req.method ?? 'GET';
  const text = res.body.toString('utf8').trim().slice(0, 300);
  if (res.status === 403) {
    // Consul's own words when it names the permission (a suffix would only repeat them).
    const own = consulPermissionText(text);
    const permission = own ?? requiredPermission(method, req.path, req.body);
    const head = `consul ${method} ${req.path}: HTTP 403 ${text || 'Permission denied'}`;
    return new ConsulPermissionError(own ? head : `${head}; the ACL token lacks ${permission}`, permission);
  }
  return new ConsulError(`consul ${method} ${req.path}: HTTP ${res.status}${text ? ` ${text}` : ''}`, {
    status: res.status,
    retryable: res.status >= 500 || res.status === 429,
  });
}
