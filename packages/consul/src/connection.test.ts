import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulError, ConsulPermissionError } from '@meshless/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConsulResponse, resolveConsulOptions, statusError } from './connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshless-connection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function answer(status: number, text: string): ConsulResponse {
  return { status, index: undefined, body: Buffer.from(text), header: () => undefined };
}

describe('resolveConsulOptions', () => {
  it('takes the TLS files from the environment, explicit options winning field by field', () => {
    const env = {
      CONSUL_HTTP_ADDR: 'https://consul.internal:8501',
      CONSUL_CACERT: '/env/ca.pem',
      CONSUL_CAPATH: '/env/cas',
      CONSUL_CLIENT_CERT: '/env/cert.pem',
      CONSUL_CLIENT_KEY: '/env/key.pem',
      CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
    };
    expect(resolveConsulOptions({}, env)).toMatchObject({
      origin: 'https://consul.internal:8501',
      caFile: '/env/ca.pem',
      caPath: '/env/cas',
      certFile: '/env/cert.pem',
      keyFile: '/env/key.pem',
      tlsServerName: 'server.dc1.consul',
    });
    expect(
      resolveConsulOptions({ certFile: '/o/c.pem', keyFile: '/o/k.pem', tlsServerName: 'x' }, env),
    ).toMatchObject({
      caFile: '/env/ca.pem',
      certFile: '/o/c.pem',
      keyFile: '/o/k.pem',
      tlsServerName: 'x',
    });
    expect(resolveConsulOptions({}, {})).toMatchObject({
      caPath: undefined,
      certFile: undefined,
      keyFile: undefined,
    });
  });

  it('reads the token from CONSUL_HTTP_TOKEN_FILE once, trimmed; a token given outright wins', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file\n');
    expect(resolveConsulOptions({}, { CONSUL_HTTP_TOKEN_FILE: file }).token).toBe('from-file');
    expect(resolveConsulOptions({}, { CONSUL_HTTP_TOKEN_FILE: file, CONSUL_HTTP_TOKEN: 'env' }).token).toBe(
      'env',
    );
    expect(resolveConsulOptions({ tokenFile: file }, { CONSUL_HTTP_TOKEN: 'env' }).token).toBe('from-file');
    expect(resolveConsulOptions({ token: 'opt', tokenFile: file }, {}).token).toBe('opt');
    expect(() => resolveConsulOptions({}, { CONSUL_HTTP_TOKEN_FILE: join(dir, 'none') })).toThrow(
      /^consul\.tokenFile \(CONSUL_HTTP_TOKEN_FILE\): cannot read/,
    );
  });
});

describe('statusError', () => {
  it('makes a 403 a non-retryable ConsulPermissionError naming the permission', () => {
    const e = statusError({ method: 'GET', path: '/v1/kv/secret/db' }, answer(403, 'Permission denied'));
    expect(e).toBeInstanceOf(ConsulPermissionError);
    expect(e).toBeInstanceOf(ConsulError);
    expect(e).toMatchObject({
      code: 'MESHLESS_CONSUL_PERMISSION_DENIED',
      status: 403,
      retryable: false,
      permission: 'key:read on "secret/db"',
      message:
        'consul GET /v1/kv/secret/db: HTTP 403 Permission denied; the ACL token lacks key:read on "secret/db"',
    });
    const register = statusError(
      { method: 'PUT', path: '/v1/agent/service/register', body: '{"Name":"web"}' },
      answer(403, ''),
    );
    expect(register.message).toBe(
      'consul PUT /v1/agent/service/register: HTTP 403 Permission denied; the ACL token lacks service:write on "web"',
    );
    const other = statusError({ path: '/v1/kv/x' }, answer(500, 'boom'));
    expect(other).not.toBeInstanceOf(ConsulPermissionError);
    expect(other).toMatchObject({ code: 'MESHLESS_CONSUL', status: 500, retryable: true });
  });
});
