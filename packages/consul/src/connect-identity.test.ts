import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConsulError, type Logger } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectIdentity, type ConnectMaterial } from './connect-identity.ts';
import { parseLeaf, parseRoots } from './connect-identity-parse.ts';
import { scriptedAgent } from './test-support.ts';

// A scripted agent on loopback serves the leaf and roots endpoints with real blocking semantics
// (an `index` request waits until the document changes), so renewal, rotation and a trust-domain
// mismatch can be produced on demand. Real Consul is covered in test/connect-sources.test.ts.

const run = promisify(execFile);
const TD = '11111111-2222-3333-4444-555555555555.consul';
const OTHER_TD = '99999999-2222-3333-4444-555555555555.consul';
const uri = (td: string, svc = 'web') => `spiffe://${td}/ns/default/dc/dc1/svc/${svc}`;

interface Pem {
  certPem: string;
  keyPem: string;
}
let dir: string;
let caA: Pem;
let caB: Pem;

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(name: string, td: string): Promise<Pem> {
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  await writeFile(
    join(dir, `${name}.cnf`),
    `[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectAltName=URI:spiffe://${td}\n`,
  );
  await openssl(
    ['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '3650'].concat([
      '-config',
      `${name}.cnf`,
      '-extensions',
      'ext',
      '-out',
      `${name}.pem`,
    ]),
  );
  return {
    certPem: await readFile(join(dir, `${name}.pem`), 'utf8'),
    keyPem: await readFile(join(dir, `${name}.key`), 'utf8'),
  };
}

let leafN = 0;
async function makeLeaf(ca: string, sans: string[]): Promise<Pem> {
  const n = `leaf${++leafN}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(join(dir, `${n}.key`), privateKey.export({ type: 'sec1', format: 'pem' }) as string);
  await writeFile(
    join(dir, `${n}.cnf`),
    `[ext]\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=${sans.join(',')}\n`,
  );
  await openssl(['req', '-new', '-key', `${n}.key`, '-subj', `/CN=${n}`, '-out', `${n}.csr`]);
  await openssl(
    ['x509', '-req', '-in', `${n}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial'].concat([
      '-days',
      '30',
      '-extfile',
      `${n}.cnf`,
      '-extensions',
      'ext',
      '-out',
      `${n}.pem`,
    ]),
  );
  return {
    certPem: await readFile(join(dir, `${n}.pem`), 'utf8'),
    keyPem: await readFile(join(dir, `${n}.key`), 'utf8'),
  };
}

function leafDoc(leaf: Pem, serial: string, td = TD, svc = 'web'): string {
  return JSON.stringify({
    SerialNumber: serial,
    CertPEM: leaf.certPem,
    PrivateKeyPEM: leaf.keyPem,
    Service: svc,
    ServiceURI: uri(td, svc),
    ValidAfter: '2026-01-01T00:00:00Z',
    ValidBefore: '2026-01-04T00:00:00Z',
  });
}

function rootsDoc(td: string, roots: { id: string; pem: string; active: boolean }[]): string {
  return JSON.stringify({
    ActiveRootID: roots.find((r) => r.active)?.id,
    TrustDomain: td,
    Roots: roots.map((r) => ({
      ID: r.id,
      Name: 'CA',
      RootCert: r.pem,
      IntermediateCerts: null,
      Active: r.active,
    })),
  });
}

const LEAF = '/v1/agent/connect/ca/leaf/web';
const ROOTS = '/v1/agent/connect/ca/roots';

function recordingLogger() {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: object) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return { logger, lines };
}

function next(identity: ConnectIdentity): Promise<ConnectMaterial> {
  return new Promise((resolve) => {
    const sub = identity.onDidChange((m) => {
      sub.dispose();
      resolve(m);
    });
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshless-connect-unit-'));
  caA = await makeCa('caA', TD);
  caB = await makeCa('caB', TD);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function started(options: { certificateDir?: string } = {}) {
  const agent = await scriptedAgent();
  const { logger, lines } = recordingLogger();
  const identity = new ConnectIdentity({ connection: agent.connection, service: 'web', logger, ...options });
  cleanups.push(() => agent.close());
  cleanups.push(async () => {
    identity.dispose();
    await identity.done;
  });
  return { agent, identity, lines };
}

describe('parseLeaf / parseRoots', () => {
  it('accepts a leaf whose URI SAN is its ServiceURI and whose key matches', async () => {
    const leaf = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    const parsed = parseLeaf(Buffer.from(leafDoc(leaf, '0a')), 'web');
    expect(parsed).toMatchObject({ service: 'web', spiffeId: uri(TD), serial: '0a' });
    expect(parsed.id).toMatchObject({
      trustDomain: TD,
      datacenter: 'dc1',
      service: 'web',
      namespace: 'default',
    });
    expect(parsed.validBefore.getTime()).toBeGreaterThan(Date.now());
  });

  it('refuses a SAN that differs, two SPIFFE SANs, a foreign key, another service, and never echoes the key', async () => {
    const wrongSan = await makeLeaf('caA', [`URI:${uri(TD, 'api')}`]);
    const twoSans = await makeLeaf('caA', [`URI:${uri(TD)}`, `URI:${uri(TD, 'api')}`]);
    const good = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    const other = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    const cases: [string, RegExp][] = [
      [leafDoc(wrongSan, '1'), /URI SAN/],
      [leafDoc(twoSans, '2'), /URI SAN/],
      [leafDoc({ certPem: good.certPem, keyPem: other.keyPem }, '3'), /does not belong/],
      [leafDoc(good, '4', TD, 'api'), /issued for "api"/],
      [JSON.stringify({ ...JSON.parse(leafDoc(good, '5')), ServiceURI: 'spiffe://x/y' }), /SPIFFE/],
      ['{"__proto__":{"CertPEM":"x"}}', /no CertPEM/],
      ['not json', /not JSON/],
    ];
    for (const [body, error] of cases) {
      let message = '';
      try {
        parseLeaf(Buffer.from(body), 'web');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(error);
      expect(message).not.toContain('PRIVATE KEY');
    }
  });

  it('trusts every listed root and intermediate, active first, and skips malformed ones', () => {
    const doc = JSON.parse(
      rootsDoc(TD, [
        { id: 'old', pem: caB.certPem, active: false },
        { id: 'new', pem: caA.certPem, active: true },
      ]),
    );
    doc.Roots[1].IntermediateCerts = [caB.certPem, 'garbage'];
    doc.Roots.push({ ID: 'bad', RootCert: 'not a cert' }, null);
    const roots = parseRoots(Buffer.from(JSON.stringify(doc)));
    expect(roots.trustDomain).toBe(TD);
    expect(roots.activeRootId).toBe('new');
    expect(roots.rootsPem).toEqual([caA.certPem, caB.certPem, caB.certPem]);
    expect(roots.skipped).toBe(3);
    expect(() =>
      parseRoots(Buffer.from(rootsDoc('UPPER.consul', [{ id: 'a', pem: caA.certPem, active: true }]))),
    ).toThrow(/TrustDomain/);
    expect(() => parseRoots(Buffer.from(JSON.stringify({ TrustDomain: TD, Roots: [] })))).toThrow(/no Roots/);
  });
});

describe('ConnectIdentity', () => {
  it('is ready once both answered, then follows a renewal and a CA rotation, firing only real changes', async () => {
    const { agent, identity, lines } = await started();
    expect(identity.current()).toBeUndefined();
    const leaf1 = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    agent.set(LEAF, leafDoc(leaf1, '01'));
    agent.set(ROOTS, rootsDoc(TD, [{ id: 'A', pem: caA.certPem, active: true }]));
    const first = await identity.ready(5000);
    expect(first).toMatchObject({
      service: 'web',
      spiffeId: uri(TD),
      trustDomain: TD,
      datacenter: 'dc1',
      serial: '01',
    });
    expect(first.rootsPem).toEqual([caA.certPem]);
    expect(identity.current()).toBe(first);

    const leaf2 = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    const renewed = next(identity);
    agent.set(LEAF, leafDoc(leaf2, '02'));
    expect((await renewed).serial).toBe('02');

    // Rotation: the new root becomes active, the old one stays listed; both are trusted.
    const rotated = next(identity);
    agent.set(
      ROOTS,
      rootsDoc(TD, [
        { id: 'A', pem: caA.certPem, active: false },
        { id: 'B', pem: caB.certPem, active: true },
      ]),
    );
    const m = await rotated;
    expect(m.activeRootId).toBe('B');
    expect(m.rootsPem).toEqual([caB.certPem, caA.certPem]);

    // Same content again (a wake-up with a new index): no event.
    let fired = 0;
    identity.onDidChange(() => fired++);
    agent.set(LEAF, leafDoc(leaf2, '02'));
    const marker = next(identity);
    const leaf3 = await makeLeaf('caB', [`URI:${uri(TD)}`]);
    agent.set(LEAF, leafDoc(leaf3, '03'));
    expect((await marker).serial).toBe('03');
    expect(fired).toBe(1);
    expect(identity.stats()).toMatchObject({
      rootCount: 2,
      validBefore: identity.current()!.validBefore.toISOString(),
    });
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('holds back a leaf from another trust domain until the roots agree', async () => {
    const { agent, identity, lines } = await started();
    const foreign = await makeLeaf('caA', [`URI:${uri(OTHER_TD)}`]);
    agent.set(ROOTS, rootsDoc(TD, [{ id: 'A', pem: caA.certPem, active: true }]));
    agent.set(LEAF, leafDoc(foreign, '07', OTHER_TD));
    await expect(identity.ready(300)).rejects.toThrow(/different trust domains/);
    expect(identity.current()).toBeUndefined();
    expect(lines.some((l) => l.startsWith('warn connect leaf held back'))).toBe(true);
    const agreed = next(identity);
    agent.set(ROOTS, rootsDoc(OTHER_TD, [{ id: 'A', pem: caA.certPem, active: true }]));
    expect((await agreed).trustDomain).toBe(OTHER_TD);
  });

  it('logs errors instead of throwing; ready() rejects at once while the leaf is refused (403), and the watch gets it once granted', async () => {
    const { agent, identity, lines } = await started();
    agent.set(LEAF, 'Permission denied', 403);
    agent.set(ROOTS, rootsDoc(TD, [{ id: 'A', pem: caA.certPem, active: true }]));
    // A 60 s timeout: only the refusal can end this wait within the test's time.
    const error = await identity.ready(60_000).catch((e) => e);
    expect(error).toBeInstanceOf(ConsulError);
    expect(String(error.message)).toMatch(/leaf: .*403/);
    expect(String(error.message)).not.toMatch(/not ready in/);
    expect(lines.find((l) => l.startsWith('warn connect leaf watch failed'))).toMatch(/service:write on web/);
    await expect(identity.ready(60_000)).rejects.toThrow(/403/);
    // The operator grants it: the watch keeps trying, and the material arrives.
    const granted = next(identity);
    agent.set(LEAF, leafDoc(await makeLeaf('caA', [`URI:${uri(TD)}`]), '05'));
    expect((await granted).serial).toBe('05');
    expect((await identity.ready(60_000)).serial).toBe('05');
  });

  it('ready() times out on the injected clock and rejects on dispose', async () => {
    const agent = await scriptedAgent();
    cleanups.push(() => agent.close());
    const clock = new ManualClock();
    const identity = new ConnectIdentity({ connection: agent.connection, service: 'web', clock });
    const timedOut = identity.ready(1000);
    const disposed = identity.ready(60_000);
    clock.advance(1000);
    await expect(timedOut).rejects.toThrow(/not ready in 1000 ms/);
    identity.dispose();
    await expect(disposed).rejects.toThrow(/disposed/);
    await identity.done;
  });

  it('writes cert, key and roots only when asked: files 0600 in a 0700 directory', async () => {
    const out = join(dir, 'certs-out', 'web');
    const { agent, identity } = await started({ certificateDir: out });
    const leaf = await makeLeaf('caA', [`URI:${uri(TD)}`]);
    agent.set(LEAF, leafDoc(leaf, '01'));
    agent.set(ROOTS, rootsDoc(TD, [{ id: 'A', pem: caA.certPem, active: true }]));
    await identity.ready(5000);
    identity.dispose();
    await identity.done;
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    for (const [name, text] of [
      ['cert.pem', leaf.certPem],
      ['key.pem', leaf.keyPem],
      ['roots.pem', caA.certPem],
    ] as const) {
      expect((await stat(join(out, name))).mode & 0o777).toBe(0o600);
      expect(await readFile(join(out, name), 'utf8')).toBe(text);
    }
  });
});
