import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectMaterial } from '@meshless/consul';
import { Emitter, type Logger } from '@meshless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from './test-support.ts';
import { TlsCredentials } from './tls-credentials.ts';

const TD = '11111111-2222-3333-4444-555555555555.consul';
const _run = promisify(execFile);
let dir: string;

let a: { certPem: string; keyPem: string };
let b: { certPem: string; keyPem: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshless-tls-credentials-'));
  [a, b] = await Promise.all([selfSigned(dir, 'a'), selfSigned(dir, 'b')]);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function material(
  pair: { certPem: string; keyPem: string },
  serial: string,
  keyPem = pair.keyPem,
): ConnectMaterial {
  return {
    service: 'api',
    spiffeId: `spiffe://${TD}/ns/default/dc/dc1/svc/api`,
    trustDomain: TD,
    datacenter: 'dc1',
    certPem: pair.certPem,
    keyPem,
    rootsPem: [pair.certPem],
    serial,
    validBefore: new Date(Date.UTC(2026, 0, 2)),
    activeRootId: 'root',
  };
}

class FakeIdentity {
  value: ConnectMaterial | undefined;
  private readonly emitter = new Emitter<ConnectMaterial>();
  readonly onDidChange = this.emitter.event;
  constructor(value?: ConnectMaterial) {
    this.value = value;
  }
  current(): ConnectMaterial | undefined {
    return this.value;
  }
  fire(next: ConnectMaterial): void {
    this.value = next;
    this.emitter.fire(next);
  }
}

function recordingLogger(): Logger & {
  errors: { message: string; fields: Record<string, unknown> | undefined }[];
} {
  const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  const noop = () => {};
  return {
    errors,
    debug: noop,
    info: noop,
    warn: noop,
    error: (message, fields) => errors.push({ message, fields }),
  };
}

describe('TlsCredentials', () => {
  it('has nothing before the identity arrives, then the server options and one client context', () => {
    const identity = new FakeIdentity();
    const credentials = new TlsCredentials(identity, recordingLogger());
    expect(credentials.ready).toBe(false);
    expect(credentials.trustDomain).toBeUndefined();
    expect(credentials.serverOptions()).toBeUndefined();
    expect(() => credentials.clientContext()).toThrow('zero trust: no certificate yet');
    const seen: string[] = [];
    credentials.onDidChange((m) =>
      seen.push(`${m.serial}:${credentials.serverOptions()?.cert === m.certPem}`),
    );
    identity.fire(material(a, '1'));
    expect(credentials.ready).toBe(true);
    expect(credentials.trustDomain).toBe(TD);
    expect(credentials.datacenter).toBe('dc1');
    expect(credentials.spiffeId).toBe(`spiffe://${TD}/ns/default/dc/dc1/svc/api`);
    expect(credentials.serverOptions()).toEqual({ key: a.keyPem, cert: a.certPem, ca: [a.certPem] });
    const context = credentials.clientContext();
    expect(credentials.clientContext()).toBe(context);
    // Listeners run once the new material is in place.
    expect(seen).toEqual(['1:true']);
    credentials.dispose();
  });

  it('takes the material already there at construction, without an event', () => {
    const credentials = new TlsCredentials(new FakeIdentity(material(a, '1')), recordingLogger());
    expect(credentials.ready).toBe(true);
    expect(credentials.serverOptions()?.cert).toBe(a.certPem);
    credentials.dispose();
  });

  it('a certificate node:tls cannot load keeps the previous one, logs (never the key) and fires nothing', () => {
    const identity = new FakeIdentity(material(a, '1'));
    const logger = recordingLogger();
    const credentials = new TlsCredentials(identity, logger);
    const context = credentials.clientContext();
    let changes = 0;
    credentials.onDidChange(() => changes++);
    // b's certificate with a's key: node:tls refuses the pair.
    identity.fire(material(b, '2', a.keyPem));
    identity.fire({
      ...material(b, '3'),
      certPem: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n',
    });
    expect(changes).toBe(0);
    expect(credentials.serverOptions()).toEqual({ key: a.keyPem, cert: a.certPem, ca: [a.certPem] });
    expect(credentials.clientContext()).toBe(context);
    expect(logger.errors.map((e) => [e.message, e.fields?.serial])).toEqual([
      ['zero trust: the new certificate could not be loaded; keeping the current one', '2'],
      ['zero trust: the new certificate could not be loaded; keeping the current one', '3'],
    ]);
    expect(JSON.stringify(logger.errors)).not.toContain('PRIVATE KEY');
    // A good one after that is taken.
    identity.fire(material(b, '4'));
    expect(changes).toBe(1);
    expect(credentials.serverOptions()?.cert).toBe(b.certPem);
    expect(credentials.clientContext()).not.toBe(context);
    credentials.dispose();
  });

  it('follows no change after dispose', () => {
    const identity = new FakeIdentity(material(a, '1'));
    const credentials = new TlsCredentials(identity, recordingLogger());
    credentials.dispose();
    identity.fire(material(b, '2'));
    expect(credentials.serverOptions()?.cert).toBe(a.certPem);
  });
});
