import { KNOWN_HTTP_METHODS } from '@meshless/core';
// Attribute and event names. The HTTP ones are OpenTelemetry semantic conventions (stable
// HTTP semconv); the `meshless.*` ones are ours, listed in docs/tracing.md.

export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_QUERY = 'url.query';
export const ATTR_ERROR_TYPE = 'error.type';

export const ATTR_MESHLESS_SERVICE = 'meshless.service';
export const ATTR_MESHLESS_ROUTE = 'meshless.route';
export const ATTR_MESHLESS_SUBSET = 'meshless.subset';
export const ATTR_MESHLESS_ENDPOINT_ID = 'meshless.endpoint.id';
export const ATTR_MESHLESS_ATTEMPT = 'meshless.attempt';
/** `first`, `retry` or `hedge`: why this attempt exists. */
export const ATTR_MESHLESS_ATTEMPT_KIND = 'meshless.attempt.kind';
export const ATTR_MESHLESS_BREAKER_STATE = 'meshless.breaker.state';
export const ATTR_MESHLESS_RESOURCE = 'meshless.resource';
export const ATTR_MESHLESS_DELAY_MS = 'meshless.delay_ms';
export const ATTR_MESHLESS_REASON = 'meshless.reason';
/** What meshless did with a refused request: `rejected` (to the caller), `shed` (inbound) or `rerouted`. */
export const ATTR_MESHLESS_ACTION = 'meshless.action';
export const ATTR_MESHLESS_BREAKER_FROM = 'meshless.breaker.from';
export const ATTR_MESHLESS_BREAKER_TO = 'meshless.breaker.to';

export const EVENT_RETRY = 'meshless.retry';
export const EVENT_HEDGE = 'meshless.hedge';
export const EVENT_BREAKER_TRANSITION = 'meshless.breaker.transition';
export const EVENT_REJECTED = 'meshless.rejected';
export const EVENT_FALLBACK = 'meshless.fallback';

const KNOWN_METHODS = KNOWN_HTTP_METHODS;

/** The semconv value of `http.request.method`: a known method, else `_OTHER` (the original goes in `_original`). */
export function semconvMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}
