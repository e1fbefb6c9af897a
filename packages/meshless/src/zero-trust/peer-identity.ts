import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { spiffeIdFromSubjectAltName } from '@meshless/core';

/** The caller of a request, as its verified client certificate names it. */
export interface MeshPeer {
  /** `spiffe://<trust domain>/ns/<namespace>/dc/<datacenter>/svc/<service>` */
  readonly spiffeId: string;
  readonly service: string;
  readonly datacenter: string;
  readonly trustDomain: string;
  readonly namespace: string;
}

/** What the mesh puts on each request it admits: `req.meshless.peer`. */
export interface MeshRequestInfo {
  /** The verified caller over mutual TLS; undefined for a plain request (permissive mode). */
  readonly peer: MeshPeer | undefined;
}

/** A TLS connection's verdict, worked out once per connection and kept for its requests. */
export type PeerVerdict =
  | { readonly trusted: true; readonly info: MeshRequestInfo; readonly trustDomain: string }
  | { readonly trusted: false; readonly reason: string; readonly trustDomain: string | undefined };

const verdicts = new WeakMap<object, PeerVerdict>();
const PLAIN: MeshRequestInfo = Object.freeze({ peer: undefined });

/** The info of a plain request (one frozen object, never allocated per request). */
export function plainRequestInfo(): MeshRequestInfo {
  return PLAIN;
}

/**
 * The verdict on a TLS connection's client: its chain was verified in the handshake against the
 * roots; here its one SPIFFE id must parse and name this cluster's trust domain (Consul's own
 * authorize endpoint does not check that). Cached per connection and trust domain.
 */
export function peerVerdict(socket: TLSSocket, trustDomain: string | undefined): PeerVerdict {
  const cached = verdicts.get(socket);
  if (cached !== undefined && cached.trustDomain === trustDomain) return cached;
  const verdict = judge(socket, trustDomain);
  verdicts.set(socket, verdict);
  return verdict;
}

function judge(socket: TLSSocket, trustDomain: string | undefined): PeerVerdict {
  if (trustDomain === undefined) return { trusted: false, reason: 'no trust domain yet', trustDomain };
  if (!socket.authorized) {
    return {
      trusted: false,
      reason: `certificate not verified (${String(socket.authorizationError)})`,
      trustDomain,
    };
  }
  const cert = socket.getPeerCertificate(false);
  const id = spiffeIdFromSubjectAltName(cert?.subjectaltname);
  if (!id) return { trusted: false, reason: 'no single SPIFFE service id in the certificate', trustDomain };
  if (id.trustDomain !== trustDomain) {
    return { trusted: false, reason: `trust domain ${id.trustDomain} is not this cluster's`, trustDomain };
  }
  const peer: MeshPeer = Object.freeze({
    spiffeId: id.uri,
    service: id.service,
    datacenter: id.datacenter,
    trustDomain: id.trustDomain,
    namespace: id.namespace,
  });
  return { trusted: true, info: Object.freeze({ peer }), trustDomain };
}

/** The verified caller of a request the mesh admitted (undefined: plain, or not through the mesh). */
export function peerOf(req: IncomingMessage): MeshPeer | undefined {
  return (req as { meshless?: MeshRequestInfo }).meshless?.peer;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by the mesh on each request it admits (zero trust on): the verified caller. */
    meshless?: MeshRequestInfo;
  }
}
