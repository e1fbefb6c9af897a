const ERROR_BRAND = Symbol.for('meshless.error');

export interface MeshlessErrorOptions {
  cause?: unknown;
  /** Whether trying the same work again may succeed. */
  retryable?: boolean;
}

/**
 * Base of every error meshless throws. `code` is stable across releases; match on it,
 * or use `MeshlessError.isInstance(err)`, which works across duplicate installs.
 */
export class MeshlessError extends Error {
  readonly [ERROR_BRAND] = true;
  readonly code: string = 'MESHLESS_ERROR';
  readonly retryable: boolean;

  constructor(message: string, options: MeshlessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
  }

  static isInstance(value: unknown): value is MeshlessError {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERROR_BRAND] === true
    );
  }
}

export interface RuleErrorOptions extends MeshlessErrorOptions {
  key?: string;
  /** Field path inside the document, e.g. `routes[1].to`. Empty for whole-document errors. */
  path?: string;
}

/** A rule document that could not be parsed or validated. Never replaces a good document. */
export class RuleError extends MeshlessError {
  override readonly code: string = 'MESHLESS_RULE_INVALID';
  readonly key: string | undefined;
  readonly path: string;

  constructor(message: string, options: RuleErrorOptions = {}) {
    super(message, options);
    this.key = options.key;
    this.path = options.path ?? '';
  }
}

/** A key under the prefix that matches no section of the KV layout. */
export class UnknownRuleKeyError extends RuleError {
  override readonly code = 'MESHLESS_RULE_UNKNOWN_KEY';
}

/** A bad option passed in code (createMesh, a policy constructor, a decorator). */
export class ConfigError extends MeshlessError {
  override readonly code = 'MESHLESS_INVALID_OPTION';
  readonly path: string;
  constructor(message: string, options: MeshlessErrorOptions & { path?: string } = {}) {
    super(message, options);
    this.path = options.path ?? '';
  }
}

/** The mesh (or a component of it) was used after `close()`. */
export class ClosedError extends MeshlessError {
  override readonly code = 'MESHLESS_CLOSED';
}

/** Consul answered with an error status or could not be reached. */
export class ConsulError extends MeshlessError {
  override readonly code: string = 'MESHLESS_CONSUL';
  readonly status: number | undefined;
  constructor(message: string, options: MeshlessErrorOptions & { status?: number } = {}) {
    super(message, { retryable: true, ...options });
    this.status = options.status;
  }
}

/**
 * Consul answered 403: the ACL token lacks a permission. `permission` names it (Consul's own words
 * when it gives them, else derived from the request); trying again with the same token cannot help.
 */
export class ConsulPermissionError extends ConsulError {
  override readonly code: string = 'MESHLESS_CONSUL_PERMISSION_DENIED';
  readonly permission: string;
  constructor(message: string, permission: string, options: MeshlessErrorOptions = {}) {
    super(message, { ...options, status: 403, retryable: false });
    this.permission = permission;
  }
}

/**
 * `startTracing()` needs OpenTelemetry SDK packages that are not installed. They are optional peers
 * (an app that never traces never installs them); `packages` names the ones to install.
 */
export class TracingSdkMissingError extends MeshlessError {
  override readonly code = 'MESHLESS_TRACING_SDK_MISSING';
  readonly packages: readonly string[];
  constructor(packages: readonly string[], options: MeshlessErrorOptions = {}) {
    super(
      `startTracing() needs the OpenTelemetry SDK, an optional peer dependency that is not installed: ` +
        `npm install ${packages.join(' ')}`,
      options,
    );
    this.packages = packages;
  }
}

/** Base for errors of a governed call that name the resource they happened on. */
export class ResourceError extends MeshlessError {
  readonly resource: string;
  constructor(message: string, resource: string, options: MeshlessErrorOptions = {}) {
    super(message, options);
    this.resource = resource;
  }
}

export class CircuitOpenError extends ResourceError {
  override readonly code = 'MESHLESS_CIRCUIT_OPEN';
  constructor(resource: string, options: MeshlessErrorOptions = {}) {
    super(`circuit open for ${resource}`, resource, { retryable: true, ...options });
  }
}

export class TimeoutError extends ResourceError {
  override readonly code = 'MESHLESS_TIMEOUT';
  readonly timeoutMs: number;
  constructor(resource: string, timeoutMs: number, options: MeshlessErrorOptions = {}) {
    super(`${resource} timed out after ${timeoutMs} ms`, resource, { retryable: true, ...options });
    this.timeoutMs = timeoutMs;
  }
}

export class BulkheadFullError extends ResourceError {
  override readonly code = 'MESHLESS_BULKHEAD_FULL';
  constructor(resource: string, options: MeshlessErrorOptions = {}) {
    super(`bulkhead full for ${resource}`, resource, options);
  }
}

export class RateLimitedError extends ResourceError {
  override readonly code = 'MESHLESS_RATE_LIMITED';
  /** When a new attempt may succeed, in milliseconds from now. */
  readonly retryAfterMs: number;
  constructor(resource: string, retryAfterMs: number, options: MeshlessErrorOptions = {}) {
    super(`rate limit exceeded for ${resource}`, resource, options);
    this.retryAfterMs = retryAfterMs;
  }
}

export class RetryBudgetExhaustedError extends ResourceError {
  override readonly code = 'MESHLESS_RETRY_BUDGET_EXHAUSTED';
  constructor(resource: string, options: MeshlessErrorOptions = {}) {
    super(`retry budget exhausted for ${resource}`, resource, options);
  }
}

export class DeadlineExceededError extends ResourceError {
  override readonly code = 'MESHLESS_DEADLINE_EXCEEDED';
  constructor(resource: string, options: MeshlessErrorOptions = {}) {
    super(`deadline exceeded for ${resource}`, resource, options);
  }
}

export class NoHealthyEndpointError extends ResourceError {
  override readonly code = 'MESHLESS_NO_HEALTHY_ENDPOINT';
  readonly subset: string | undefined;
  constructor(service: string, subset?: string, options: MeshlessErrorOptions = {}) {
    super(
      subset ? `no healthy endpoint for ${service} (subset ${subset})` : `no healthy endpoint for ${service}`,
      service,
      { retryable: true, ...options },
    );
    this.subset = subset;
  }
}

export interface TransportErrorOptions extends MeshlessErrorOptions {
  /** `host:port` of the endpoint the attempt went to. */
  address?: string;
  /** The endpoint's id (its Consul service ID). */
  endpointId?: string;
}

/**
 * An attempt of a governed call got no HTTP answer from its endpoint. `cause` is the original
 * error (undici's or the system's, with its own `code` such as `ECONNREFUSED`); `resource` is
 * the service called.
 */
export class TransportError extends ResourceError {
  override readonly code: string = 'MESHLESS_TRANSPORT_ERROR';
  readonly address: string | undefined;
  readonly endpointId: string | undefined;
  constructor(message: string, service: string, options: TransportErrorOptions = {}) {
    super(message, service, options);
    this.address = options.address;
    this.endpointId = options.endpointId;
  }
}

/**
 * No connection could be made (refused, unreachable, connect timeout): the request was never
 * sent, so the client sends it to another endpoint whatever the method.
 */
export class ConnectError extends TransportError {
  override readonly code = 'MESHLESS_CONNECT_ERROR';
  constructor(service: string, options: TransportErrorOptions = {}) {
    super(
      `cannot connect to ${service}${options.address ? ` at ${options.address}` : ''}${reasonOf(options.cause)}`,
      service,
      { retryable: true, ...options },
    );
  }
}

/**
 * The connection broke (reset, closed by the other side) after the request may have been
 * sent: it may have reached the application, so only idempotent calls are retried.
 */
export class ConnectionResetError extends TransportError {
  override readonly code = 'MESHLESS_CONNECTION_RESET';
  constructor(service: string, options: TransportErrorOptions = {}) {
    super(
      `connection to ${service}${options.address ? ` at ${options.address}` : ''} reset${reasonOf(options.cause)}`,
      service,
      { retryable: true, ...options },
    );
  }
}

/** ` (ECONNREFUSED)`: the cause's own code, for the message. */
function reasonOf(cause: unknown): string {
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? ` (${code.slice(0, 64)})` : '';
}
