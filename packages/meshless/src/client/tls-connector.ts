import { isIP, type Socket } from 'node:net';
import { type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Event } from '@meshless/core';

/** The instance's client side of mutual TLS (zero trust on): its context, and whom each target must be. */
export interface ClientTls {
  /** The current certificate, key and roots; throws while there is none yet. */
  context(): SecureContext;
  /** Undefined when the certificate `san` (Node's subjectaltname) names `service` in `datacenter`, else why not. */
  verifyServer(san: string | undefined, service: string, datacenter: string | undefined): string | undefined;
  /** A new certificate or new roots: the pools are replaced, so no connection keeps presenting the old one. */
  readonly onDidChange: Event<unknown>;
}

/** Code of the error a server certificate that names another service fails with (a connect error: nothing was sent). */
export const PEER_IDENTITY_CODE = 'ERR_TLS_CERT_ALTNAME_INVALID';
/** Code of the error a call fails with when this instance has no certificate yet. */
export const NO_CERTIFICATE_CODE = 'ERR_MESHLESS_NO_CERTIFICATE';

/** A TLS connection not up within this time fails (as undici's own connect timeout). */
const CONNECT_TIMEOUT_MS = 10_000;
/** TLS sessions kept per pool, one per endpoint: a reconnect resumes instead of a full handshake. */
const MAX_SESSIONS = 256;

/** What undici's Client hands a `connect` function, and what it expects back. */
export interface ConnectOptions {
  hostname: string;
  port: string;
  servername?: string | null;
  localAddress?: string | null;
}
export type ConnectCallback = (...args: [null, Socket | TLSSocket] | [Error, null]) => void;

/**
 * undici's `connect` for the pool of one target service and datacenter: dials with the context
 * current at connect time (a renewed certificate applies to the next connection), resumes TLS
 * sessions (held here per endpoint, strongly and bounded: undici's own cache holds them weakly,
 * so a GC between two connections cost a full handshake), and refuses a server whose
 * certificate names anyone but `service` in `datacenter` of this trust domain.
 */
export function createTlsConnector(
  tls: ClientTls,
  service: string,
  datacenter: string | undefined,
): (options: ConnectOptions, callback: ConnectCallback) => void {
  const checkServerIdentity = (_host: string, cert: { subjectaltname?: string }): Error | undefined => {
    const problem = tls.verifyServer(cert.subjectaltname, service, datacenter);
    if (problem === undefined) return undefined;
    return Object.assign(new Error(`server is not ${service}: ${problem}`), { code: PEER_IDENTITY_CODE });
  };
  const sessions = new Map<string, Buffer>();
  return (options, callback) => {
    let context: SecureContext;
    try {
      context = tls.context();
    } catch (error) {
      // No certificate yet (Consul unreachable since start): nothing can be sent.
      callback(Object.assign(error as Error, { code: NO_CERTIFICATE_CODE }), null);
      return;
    }
    const host = options.hostname;
    const port = Number(options.port) || 443;
    const key = `${host}:${port}`;
    // SNI takes names only.
    const servername = options.servername || (isIP(host) ? undefined : host);
    const socket = tlsConnect({
      host,
      port,
      secureContext: context,
      checkServerIdentity,
      session: sessions.get(key),
      ALPNProtocols: ['http/1.1'],
      ...(servername ? { servername } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    socket.on('session', (session: Buffer) => {
      sessions.delete(key);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      sessions.set(key, session);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      const error = new Error(`connect timeout (${CONNECT_TIMEOUT_MS} ms) to ${service} at ${key}`);
      socket.destroy(Object.assign(error, { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    });
    const failed = (error: Error) => {
      // A session the server refused to resume must not be offered again.
      sessions.delete(key);
      socket.setTimeout(0);
      callback(error, null);
    };
    socket.once('error', failed);
    socket.once('secureConnect', () => {
      socket.off('error', failed);
      socket.setTimeout(0);
      callback(null, socket);
    });
  };
}
