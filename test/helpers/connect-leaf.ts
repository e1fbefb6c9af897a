import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The URI goes into openssl's extension file: a closed alphabet, so nothing can inject.
const SPIFFE = /^spiffe:\/\/[A-Za-z0-9.-]{1,253}(\/[A-Za-z0-9_.-]{1,63}){0,8}$/;

/** A new EC P-256 key as SEC1 PEM ("EC PRIVATE KEY"), the form Consul 1.8's CA provider reads. */
export function newCaKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'sec1', format: 'pem' }) as string;
}

/**
 * Signs a Connect-shaped leaf with openssl: EC P-256, URI SAN `uri`, client+server EKU, CA:FALSE,
 * 3 days, signed by `caKeyPem` as the issuer `caCertPem`.
 */
export async function signLeaf(
  uri: string,
  caCertPem: string,
  caKeyPem: string,
): Promise<{ certPem: string; keyPem: string }> {
  if (!SPIFFE.test(uri)) throw new Error(`signLeaf: not a plain SPIFFE id: ${JSON.stringify(uri)}`);
  const dir = await mkdtemp(join(tmpdir(), 'meshless-leaf-'));
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    const file = (name: string) => join(dir, name);
    await Promise.all([
      writeFile(file('leaf.key'), keyPem, { mode: 0o600 }),
      writeFile(file('ca.key'), caKeyPem, { mode: 0o600 }),
      writeFile(file('ca.pem'), caCertPem),
      writeFile(
        file('ext.cnf'),
        [
          `subjectAltName=URI:${uri}`,
          'extendedKeyUsage=clientAuth,serverAuth',
          'keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement',
          'basicConstraints=critical,CA:FALSE',
          'subjectKeyIdentifier=hash',
          'authorityKeyIdentifier=keyid',
          '',
        ].join('\n'),
      ),
    ]);
    await run('openssl', [
      'req',
      '-new',
      '-key',
      file('leaf.key'),
      '-subj',
      '/CN=foreign-leaf',
      '-out',
      file('leaf.csr'),
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('leaf.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '3',
      '-sha256',
      '-extfile',
      file('ext.cnf'),
      '-out',
      file('leaf.pem'),
    ]);
    return { certPem: await readFile(file('leaf.pem'), 'utf8'), keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
