import { createPrivateKey, X509Certificate } from 'node:crypto';
import { parseSpiffeId, type SpiffeId, spiffeIdFromSubjectAltName } from '@meshless/core';

const TRUST_DOMAIN = /^[a-z0-9._-]{1,253}$/;
const MAX_BODY = 1 << 20;
const MAX_ROOTS = 64;
const MAX_PEM = 64 * 1024;

export interface LeafCertificate {
  readonly service: string;
  readonly spiffeId: string;
  readonly id: SpiffeId;
  readonly certPem: string;
  readonly keyPem: string;
  readonly serial: string;
  readonly validBefore: Date;
}

/**
 * `GET /v1/agent/connect/ca/leaf/<service>`. Checks what a TLS stack would otherwise find late:
 * the certificate parses, carries the ServiceURI as its URI SAN, and the key belongs to it. Error
 * messages never include the body (it holds the private key).
 */
export function parseLeaf(body: Buffer, service: string): LeafCertificate {
  const doc = parseObject(body, 'leaf');
  const certPem = pem(doc, 'CertPEM');
  const keyPem = pem(doc, 'PrivateKeyPEM');
  const uri = own(doc, 'ServiceURI');
  const id = typeof uri === 'string' ? parseSpiffeId(uri) : undefined;
  if (!id || typeof uri !== 'string') throw new Error('leaf: ServiceURI is not a service SPIFFE ID');
  if (id.service !== service || own(doc, 'Service') !== service)
    throw new Error(`leaf: issued for ${JSON.stringify(id.service)}, not ${JSON.stringify(service)}`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new Error('leaf: CertPEM does not parse');
  }
  // Exactly one SPIFFE URI SAN, and it is the ServiceURI: what a peer will verify.
  if (spiffeIdFromSubjectAltName(cert.subjectAltName)?.uri !== uri)
    throw new Error('leaf: the certificate does not carry the ServiceURI as its URI SAN');
  let keyMatches = false;
  try {
    keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    throw new Error('leaf: PrivateKeyPEM does not parse');
  }
  if (!keyMatches) throw new Error('leaf: the private key does not belong to the certificate');
  const serial = own(doc, 'SerialNumber');
  const validBefore = new Date(cert.validTo);
  if (Number.isNaN(validBefore.getTime())) throw new Error('leaf: no valid expiry');
  return Object.freeze({
    service,
    spiffeId: uri,
    id,
    certPem,
    keyPem,
    serial: typeof serial === 'string' && serial.length <= 128 ? serial : cert.serialNumber,
    validBefore,
  });
}

export interface CaRoots {
  readonly trustDomain: string;
  readonly activeRootId: string;
  /** Every listed root and its intermediates (PEM), active first; malformed ones left out. */
  readonly rootsPem: readonly string[];
  /** Roots listed, malformed ones included (for a warning). */
  readonly skipped: number;
}

/** `GET /v1/agent/connect/ca/roots`. During a rotation the old root is listed too: all are trusted. */
export function parseRoots(body: Buffer): CaRoots {
  const doc = parseObject(body, 'roots');
  const td = own(doc, 'TrustDomain');
  // Lower-case only, as the SPIFFE spec and parseSpiffeId require: one spelling per identity.
  if (typeof td !== 'string' || !TRUST_DOMAIN.test(td)) throw new Error('roots: no valid TrustDomain');
  const active = own(doc, 'ActiveRootID');
  const roots = own(doc, 'Roots');
  if (!Array.isArray(roots) || roots.length === 0) throw new Error('roots: no Roots');
  if (roots.length > MAX_ROOTS) throw new Error(`roots: ${roots.length} roots, more than ${MAX_ROOTS}`);
  const activeFirst: string[] = [];
  const others: string[] = [];
  let skipped = 0;
  for (const raw of roots) {
    if (typeof raw !== 'object' || raw === null) {
      skipped++;
      continue;
    }
    const root = raw as object;
    const isActive =
      own(root, 'Active') === true || (typeof active === 'string' && own(root, 'ID') === active);
    const into = isActive ? activeFirst : others;
    const cert = own(root, 'RootCert');
    if (!validCert(cert)) {
      skipped++;
      continue;
    }
    into.push(cert);
    const intermediates = own(root, 'IntermediateCerts');
    if (Array.isArray(intermediates) && intermediates.length <= MAX_ROOTS) {
      for (const i of intermediates) {
        if (validCert(i)) into.push(i);
        else skipped++;
      }
    }
  }
  const rootsPem = [...activeFirst, ...others];
  if (rootsPem.length === 0) throw new Error('roots: no root certificate parses');
  return Object.freeze({
    trustDomain: td,
    activeRootId: typeof active === 'string' ? active.slice(0, 256) : '',
    rootsPem: Object.freeze(rootsPem),
    skipped,
  });
}

function validCert(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_PEM) return false;
  try {
    new X509Certificate(value);
    return true;
  } catch {
    return false;
  }
}

function parseObject(body: Buffer, what: string): object {
  if (body.length > MAX_BODY) throw new Error(`${what}: answer of ${body.length} bytes is too large`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`${what}: the answer is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new Error(`${what}: the answer is not an object`);
  return doc;
}

function pem(doc: object, key: string): string {
  const v = own(doc, key);
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PEM || !v.includes('-----BEGIN '))
    throw new Error(`leaf: no ${key}`);
  return v;
}

function own(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}
