/**
 * Node (net, dns) and undici error codes of a connection that was never made, so nothing was
 * sent (undici connects before it writes a byte): safe to send again elsewhere, for any method.
 */
export const CONNECT_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Error codes of a connection that broke during the exchange: the request may have reached the application. */
export const RESET_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
