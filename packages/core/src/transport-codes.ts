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
  // The client refused the server's certificate in the handshake, before writing a byte.
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  // Zero trust: this instance has no certificate yet, so it did not dial.
  'ERR_MESHLESS_NO_CERTIFICATE',
]);

/** Error codes of a connection that broke during the exchange: the request may have reached the application. */
export const RESET_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
