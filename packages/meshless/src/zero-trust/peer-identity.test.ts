import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { peerOf, peerVerdict, plainRequestInfo } from './peer-identity.ts';

const TD = '11111111-2222-3333-4444-555555555555.consul';
const id = (svc: string, td = TD, dc = 'dc1') => `spiffe://${td}/ns/default/dc/${dc}/svc/${svc}`;

/** What judge() reads of a TLS connection; counts certificate reads (the cache should spare them). */
function fakeSocket(subjectaltname: string | undefined, authorized = true, authorizationError?: string) {
  const socket = {
    authorized,
    authorizationError,
    reads: 0,
    getPeerCertificate(detailed: boolean) {
      expect(detailed).toBe(false);
      socket.reads++;
      return subjectaltname === undefined ? {} : { subjectaltname };
    },
  };
  return socket;
}
const asTls = (s: ReturnType<typeof fakeSocket>) => s as unknown as TLSSocket;

describe('peerVerdict', () => {
  it('trusts a verified certificate with one SPIFFE service id of this trust domain, frozen', () => {
    const v = peerVerdict(asTls(fakeSocket(`URI:${id('web', TD, 'dc2')}`)), TD);
    expect(v).toEqual({
      trusted: true,
      trustDomain: TD,
      info: {
        peer: {
          spiffeId: id('web', TD, 'dc2'),
          service: 'web',
          datacenter: 'dc2',
          trustDomain: TD,
          namespace: 'default',
        },
      },
    });
    if (!v.trusted) throw new Error('unreachable');
    expect(Object.isFrozen(v.info)).toBe(true);
    expect(Object.isFrozen(v.info.peer)).toBe(true);
  });

  it('refuses a chain the handshake did not verify, naming the error', () => {
    const v = peerVerdict(
      asTls(fakeSocket(`URI:${id('web')}`, false, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')),
      TD,
    );
    expect(v).toEqual({
      trusted: false,
      trustDomain: TD,
      reason: 'certificate not verified (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    });
  });

  it('refuses two SPIFFE URIs, none, a non-service SPIFFE id and no SAN at all', () => {
    for (const san of [
      `URI:${id('web')}, URI:${id('admin')}`,
      'DNS:web.example',
      `URI:spiffe://${TD}/agent/client/dc/dc1/id/abc`,
      undefined,
    ]) {
      const v = peerVerdict(asTls(fakeSocket(san)), TD);
      expect(v).toEqual({
        trusted: false,
        trustDomain: TD,
        reason: 'no single SPIFFE service id in the certificate',
      });
    }
  });

  it("refuses a foreign trust domain (Consul's authorize does not check it)", () => {
    const other = '99999999-2222-3333-4444-555555555555.consul';
    const v = peerVerdict(asTls(fakeSocket(`URI:${id('web', other)}`)), TD);
    expect(v).toEqual({
      trusted: false,
      trustDomain: TD,
      reason: `trust domain ${other} is not this cluster's`,
    });
  });

  it('refuses everyone while the trust domain is not known yet', () => {
    const s = fakeSocket(`URI:${id('web')}`);
    expect(peerVerdict(asTls(s), undefined)).toEqual({
      trusted: false,
      trustDomain: undefined,
      reason: 'no trust domain yet',
    });
    expect(s.reads).toBe(0);
  });

  it('is worked out once per connection and trust domain, again when the trust domain changes', () => {
    const s = fakeSocket(`URI:${id('web')}`);
    const first = peerVerdict(asTls(s), TD);
    expect(peerVerdict(asTls(s), TD)).toBe(first);
    expect(s.reads).toBe(1);
    // Another connection with the same certificate has its own verdict.
    const other = fakeSocket(`URI:${id('web')}`);
    expect(peerVerdict(asTls(other), TD)).not.toBe(first);
    expect(other.reads).toBe(1);
    // The cluster's trust domain changed (a CA with a new domain): judged again, now untrusted.
    const next = '99999999-2222-3333-4444-555555555555.consul';
    expect(peerVerdict(asTls(s), next)).toMatchObject({ trusted: false, trustDomain: next });
    expect(s.reads).toBe(2);
    expect(peerVerdict(asTls(s), next)).toMatchObject({ trusted: false });
    expect(s.reads).toBe(2);
  });
});

describe('peerOf and plainRequestInfo', () => {
  it('reads req.meshless.peer; undefined for a plain request or one the mesh never saw', () => {
    const v = peerVerdict(asTls(fakeSocket(`URI:${id('web')}`)), TD);
    if (!v.trusted) throw new Error('unreachable');
    expect(peerOf({ meshless: v.info } as IncomingMessage)?.service).toBe('web');
    expect(peerOf({ meshless: plainRequestInfo() } as IncomingMessage)).toBeUndefined();
    expect(peerOf({} as IncomingMessage)).toBeUndefined();
  });

  it('gives one frozen object for every plain request', () => {
    expect(plainRequestInfo()).toBe(plainRequestInfo());
    expect(Object.isFrozen(plainRequestInfo())).toBe(true);
    expect(plainRequestInfo().peer).toBeUndefined();
  });
});
