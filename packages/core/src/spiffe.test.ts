import { describe, expect, it } from 'vitest';
import {
  MAX_SPIFFE_ID_LENGTH,
  MAX_SUBJECT_ALT_NAME_LENGTH,
  parseSpiffeId,
  serviceSpiffeId,
  spiffeIdFromSubjectAltName,
} from './spiffe.ts';

// The trust domain and SAN of a Consul 1.8 leaf, as measured.
const TD = 'a82b415c-a43d-dbbd-8951-70c752327edf.consul';
const WEB = `spiffe://${TD}/ns/default/dc/dc1/svc/web`;

describe('parseSpiffeId', () => {
  it("parses Consul's service identity into its parts", () => {
    const id = parseSpiffeId(WEB);
    expect(id).toEqual({
      uri: WEB,
      trustDomain: TD,
      namespace: 'default',
      datacenter: 'dc1',
      service: 'web',
    });
    expect(Object.isFrozen(id)).toBe(true);
    expect(parseSpiffeId(`spiffe://${TD}/ns/team-a/dc/eu_west.1/svc/Web.API_v2-x`)?.service).toBe(
      'Web.API_v2-x',
    );
  });

  it.each([
    ['upper-case scheme', `SPIFFE://${TD}/ns/default/dc/dc1/svc/web`],
    ['other scheme', `https://${TD}/ns/default/dc/dc1/svc/web`],
    ['no authority', 'spiffe:///ns/default/dc/dc1/svc/web'],
    ['port', `spiffe://${TD}:8443/ns/default/dc/dc1/svc/web`],
    ['userinfo', `spiffe://u@${TD}/ns/default/dc/dc1/svc/web`],
    ['upper-case trust domain', 'spiffe://Example.consul/ns/default/dc/dc1/svc/web'],
    ['query', `${WEB}?x=1`],
    ['fragment', `${WEB}#x`],
    ['percent-encoding', `spiffe://${TD}/ns/default/dc/dc1/svc/w%65b`],
    ['trailing slash', `${WEB}/`],
    ['extra segment', `${WEB}/extra`],
    ['empty segment', `spiffe://${TD}/ns//dc/dc1/svc/web`],
    ['double slash', `spiffe://${TD}//ns/default/dc/dc1/svc/web`],
    ['dot segment', `spiffe://${TD}/ns/./dc/dc1/svc/web`],
    ['dot-dot segment', `spiffe://${TD}/ns/default/dc/dc1/svc/..`],
    ['dot-dot trust domain', 'spiffe://../ns/default/dc/dc1/svc/web'],
    ['missing service', `spiffe://${TD}/ns/default/dc/dc1/svc`],
    ['agent identity', `spiffe://${TD}/agent/client/dc/dc1/id/node-1`],
    ['partition identity', `spiffe://${TD}/ap/part/ns/default/dc/dc1/svc/web`],
    ['keywords swapped', `spiffe://${TD}/dc/dc1/ns/default/svc/web`],
    ['space', `spiffe://${TD}/ns/default/dc/dc1/svc/we b`],
    ['non-ASCII', `spiffe://${TD}/ns/default/dc/dc1/svc/wéb`],
    ['backslash', `spiffe://${TD}/ns/default/dc/dc1/svc/a\\b`],
    ['empty', ''],
  ])('refuses %s', (_, uri) => {
    expect(parseSpiffeId(uri)).toBeUndefined();
  });

  it('refuses a URI over 2048 characters and accepts one at the limit', () => {
    const prefix = `spiffe://${TD}/ns/default/dc/dc1/svc/`;
    const atLimit = prefix + 's'.repeat(MAX_SPIFFE_ID_LENGTH - prefix.length);
    expect(parseSpiffeId(atLimit)?.uri.length).toBe(MAX_SPIFFE_ID_LENGTH);
    expect(parseSpiffeId(`${atLimit}s`)).toBeUndefined();
  });

  it('refuses values that are not strings', () => {
    expect(parseSpiffeId(undefined as unknown as string)).toBeUndefined();
    expect(parseSpiffeId(42 as unknown as string)).toBeUndefined();
  });
});

describe('spiffeIdFromSubjectAltName', () => {
  it("reads the one URI SAN of a Consul leaf, beside other names in Node's format", () => {
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}`)?.service).toBe('web');
    const san = `DNS:web.service.consul, URI:${WEB}, IP Address:127.0.0.1, email:a@b.c`;
    expect(spiffeIdFromSubjectAltName(san)?.uri).toBe(WEB);
  });

  it('ignores non-spiffe URIs and quoted names of other kinds', () => {
    // As node:crypto prints a DirName holding commas (measured on Node 24).
    const dirName = 'DirName:"O=b\\\\\\u002cc\\u002cCN=a"';
    const san = `URI:https://example.com/x, ${dirName}, URI:${WEB}, DNS:x`;
    expect(spiffeIdFromSubjectAltName(san)?.service).toBe('web');
  });

  it('refuses two identities, even when one of them is not a valid id', () => {
    const db = `spiffe://${TD}/ns/default/dc/dc1/svc/db`;
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}, URI:${db}`)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}, URI:spiffe://x/agent/y`)).toBeUndefined();
    expect(
      spiffeIdFromSubjectAltName(`URI:${WEB}, URI:SPIFFE://${TD}/ns/default/dc/dc1/svc/db`),
    ).toBeUndefined();
  });

  it('refuses a quoted URI (Node quotes values with commas, quotes or control characters)', () => {
    // As node:crypto prints URI `spiffe://x/a,b` (measured on Node 24).
    expect(spiffeIdFromSubjectAltName('URI:"spiffe://x/a\\u002cb"')).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}, URI:"spiffe://x/a\\u002cb"`)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`URI:"${WEB}"`)).toBeUndefined();
  });

  it('refuses no SAN, no URI SAN, an invalid id and malformed input', () => {
    expect(spiffeIdFromSubjectAltName(undefined)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName('')).toBeUndefined();
    expect(spiffeIdFromSubjectAltName('DNS:web, IP Address:10.0.0.1')).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}?x`)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`URI:${WEB},URI:spiffe://b/ns/a/dc/b/svc/c`)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName('URI:"spiffe://unterminated')).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`no-colon, URI:${WEB}`)).toBeUndefined();
    expect(spiffeIdFromSubjectAltName(`DirName:"x"junk, URI:${WEB}`)).toBeUndefined();
  });

  it('ignores input over 16 KiB', () => {
    const filler = `DNS:${'d'.repeat(MAX_SUBJECT_ALT_NAME_LENGTH)}`;
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}, ${filler}`)).toBeUndefined();
    const fits = `DNS:${'d'.repeat(MAX_SUBJECT_ALT_NAME_LENGTH - WEB.length - 12)}`;
    expect(spiffeIdFromSubjectAltName(`URI:${WEB}, ${fits}`)?.service).toBe('web');
  });

  it('scans a hostile 16 KiB name in linear time', () => {
    const hostile = `URI:"${'\\'.repeat(MAX_SUBJECT_ALT_NAME_LENGTH - 6)}`;
    const many = 'DNS:a, '.repeat(Math.floor((MAX_SUBJECT_ALT_NAME_LENGTH - WEB.length - 4) / 7));
    const start = performance.now();
    for (let i = 0; i < 100; i++) {
      spiffeIdFromSubjectAltName(hostile);
      spiffeIdFromSubjectAltName(`${many}URI:${WEB}`);
    }
    expect(spiffeIdFromSubjectAltName(`${many}URI:${WEB}`)?.service).toBe('web');
    // 200 scans of 16 KiB: a quadratic scan would take seconds.
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('serviceSpiffeId', () => {
  it('builds the id a caller expects of a service, default namespace "default"', () => {
    expect(serviceSpiffeId(TD, 'dc1', 'web')).toBe(WEB);
    const other = serviceSpiffeId(TD, 'dc2', 'db', 'team-a');
    expect(parseSpiffeId(other)).toMatchObject({ datacenter: 'dc2', service: 'db', namespace: 'team-a' });
  });

  it('throws on a part the parser would refuse', () => {
    expect(() => serviceSpiffeId(TD, 'dc1', 'a/b')).toThrow(RangeError);
    expect(() => serviceSpiffeId(TD, 'dc1', '')).toThrow(/not a valid SPIFFE service id/);
    expect(() => serviceSpiffeId('Upper.consul', 'dc1', 'web')).toThrow(RangeError);
    expect(() => serviceSpiffeId(TD, '..', 'web')).toThrow(RangeError);
    expect(() => serviceSpiffeId(`${TD}:80`, 'dc1', 'web')).toThrow(RangeError);
  });
});
