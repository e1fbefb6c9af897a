import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@meshless/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentTls, MAX_CA_FILES, MAX_FILE_BYTES, readTokenFile, tlsHint } from './agent-tls.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'meshless-agent-tls-'));
  dirs.push(d);
  return d;
}
const none = { caFile: undefined, caPath: undefined, certFile: undefined, keyFile: undefined };

function thrown(f: () => unknown): ConfigError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('did not throw');
}

describe('loadAgentTls', () => {
  it('reads the CA file, every *.pem/*.crt of the CA directory in name order, and the client pair', () => {
    const d = tempDir();
    writeFileSync(join(d, 'ca.pem'), 'CA');
    mkdirSync(join(d, 'cas'));
    writeFileSync(join(d, 'cas', 'b.crt'), 'B');
    writeFileSync(join(d, 'cas', 'a.pem'), 'A');
    writeFileSync(join(d, 'cas', 'notes.txt'), 'ignored');
    writeFileSync(join(d, 'cert.pem'), 'CERT');
    writeFileSync(join(d, 'key.pem'), 'KEY');
    const m = loadAgentTls({
      caFile: join(d, 'ca.pem'),
      caPath: join(d, 'cas'),
      certFile: join(d, 'cert.pem'),
      keyFile: join(d, 'key.pem'),
    });
    expect(m.ca!.map(String)).toEqual(['CA', 'A', 'B']);
    expect(String(m.cert)).toBe('CERT');
    expect(String(m.key)).toBe('KEY');
    expect(loadAgentTls(none)).toEqual({ ca: undefined, cert: undefined, key: undefined });
  });

  it('names the option and its environment variable when a file cannot be read, never its content', () => {
    const d = tempDir();
    expect(thrown(() => loadAgentTls({ ...none, caFile: join(d, 'missing.pem') })).message).toBe(
      `consul.caFile (CONSUL_CACERT): cannot read ${JSON.stringify(join(d, 'missing.pem'))}: ENOENT`,
    );
    writeFileSync(join(d, 'k.pem'), 'SECRET-KEY');
    const cert = thrown(() => loadAgentTls({ ...none, certFile: d, keyFile: join(d, 'k.pem') }));
    expect(cert.message).toMatch(
      /^consul\.certFile \(CONSUL_CLIENT_CERT\): cannot read .*: not a regular file$/,
    );
    expect(cert.path).toBe('consul.certFile');
    const key = thrown(() => loadAgentTls({ ...none, certFile: join(d, 'k.pem'), keyFile: join(d, 'no') }));
    expect(key.message).toMatch(/^consul\.keyFile \(CONSUL_CLIENT_KEY\): cannot read/);
    expect(key.message).not.toContain('SECRET-KEY');
    expect(thrown(() => loadAgentTls({ ...none, caPath: join(d, 'nodir') })).message).toMatch(
      /^consul\.caPath \(CONSUL_CAPATH\): cannot read .*: ENOENT$/,
    );
    expect(thrown(() => loadAgentTls({ ...none, certFile: join(d, 'k.pem') })).message).toMatch(
      /consul\.keyFile is not set$/,
    );
  });

  it('bounds the CA directory to 256 files and every file to 1 MiB', () => {
    const d = tempDir();
    for (let i = 0; i <= MAX_CA_FILES; i++) writeFileSync(join(d, `${i}.pem`), 'x');
    expect(thrown(() => loadAgentTls({ ...none, caPath: d })).message).toMatch(
      /257 certificate files, more than 256$/,
    );
    const big = join(tempDir(), 'big.pem');
    writeFileSync(big, Buffer.alloc(MAX_FILE_BYTES + 1));
    expect(thrown(() => loadAgentTls({ ...none, caFile: big })).message).toMatch(
      /is larger than 1048576 bytes$/,
    );
    expect(thrown(() => loadAgentTls({ ...none, caPath: tempDir() })).message).toMatch(
      /holds no \*\.pem or \*\.crt file$/,
    );
  });
});

describe('readTokenFile', () => {
  it('reads once and trims; an empty or missing file is a ConfigError that does not quote the content', () => {
    const d = tempDir();
    writeFileSync(join(d, 't'), '  s3cr3t-token\n');
    expect(readTokenFile(join(d, 't'), 'tokenFile', 'CONSUL_HTTP_TOKEN_FILE')).toBe('s3cr3t-token');
    writeFileSync(join(d, 'e'), ' \n');
    expect(thrown(() => readTokenFile(join(d, 'e'), 'tokenFile', 'CONSUL_HTTP_TOKEN_FILE')).message).toMatch(
      /^consul\.tokenFile \(CONSUL_HTTP_TOKEN_FILE\): .* is empty$/,
    );
    expect(thrown(() => readTokenFile(join(d, 'none'), 'tokenFile', 'CONSUL_HTTP_TOKEN_FILE')).path).toBe(
      'consul.tokenFile',
    );
  });
});

describe('tlsHint', () => {
  it('says which setting a TLS failure points at, and nothing for other errors', () => {
    expect(tlsHint('ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE')).toMatch(
      /CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY\)$/,
    );
    expect(tlsHint('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).toMatch(/consul\.certFile/);
    expect(tlsHint('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toMatch(/CONSUL_CACERT or CONSUL_CAPATH\)$/);
    expect(tlsHint('ERR_TLS_CERT_ALTNAME_INVALID')).toMatch(/CONSUL_TLS_SERVER_NAME/);
    expect(tlsHint('ECONNREFUSED')).toBe('');
    expect(tlsHint('ERR_SSL_WRONG_VERSION_NUMBER')).toBe('');
  });
});
