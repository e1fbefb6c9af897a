import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Emitter } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMeshServer, type ServerCredentials } from './mesh-server.ts';
import { selfSigned } from './test-support.ts';

const _run = promisify(execFile);
let dir: string;
let pair: { cert: string; key: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshless-mesh-server-'));
  // Self-signed, so one certificate is the server's, the client's and the CA.
  const made = await selfSigned(dir, 'mesh-server-test');
  pair = { cert: made.certPem, key: made.keyPem };
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

function credentials(): ServerCredentials {
  return { serverOptions: () => ({ ...pair, ca: [pair.cert] }), onDidChange: new Emitter<unknown>().event };
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function tlsGet(port: number, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: body ? 'POST' : 'GET',
        path: '/t',
        headers,
        ...pair,
        ca: [pair.cert],
        checkServerIdentity: () => undefined,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, continued }));
      },
    );
    req.on('error', reject);
    if (body !== undefined && headers.expect) {
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
    } else req.end(body);
  });
}

const echo = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () =>
    res.end(`${(req.socket as { encrypted?: boolean }).encrypted ? 'tls' : 'plain'}:${body}`),
  );
};

describe('createMeshServer', () => {
  it('answers plain HTTP and mutual TLS on one port', async () => {
    const port = await listen(createMeshServer(echo, credentials()));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('plain:');
    expect(await tlsGet(port)).toEqual({ status: 200, body: 'tls:', continued: false });
  });

  it('sends 100-continue on TLS connections when nobody listens for checkContinue', async () => {
    const port = await listen(createMeshServer(echo, credentials()));
    const res = await tlsGet(port, { expect: '100-continue', 'content-length': '5' }, 'hello');
    expect(res).toEqual({ status: 200, body: 'tls:hello', continued: true });
  });

  it('does not keep a TLS connection whose client ends it during the handshake', async () => {
    const server = createMeshServer(echo, credentials());
    const port = await listen(server);
    const socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // A TLS record header, then EOF: a client that gave up.
    socket.end(Buffer.from([0x16, 0x03, 0x01]));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const count = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    for (let i = 0; i < 100 && (await count()) > 0; i++) await new Promise((r) => setImmediate(r));
    expect(await count()).toBe(0);
  });

  it('closes a connection that sends nothing within the first-byte timeout', async () => {
    const clock = new ManualClock();
    const server = createMeshServer(echo, credentials(), { clock, firstByteTimeoutMs: 1000 });
    const port = await listen(server);
    const socket = netConnect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => server.once('connection', () => resolve()));
    clock.advance(999);
    const count = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    expect(await count()).toBe(1);
    clock.advance(1);
    await closed;
  });

  it('is a plain node:http server when zero trust is off', async () => {
    const port = await listen(createMeshServer(echo, undefined));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('plain:');
    await expect(tlsGet(port)).rejects.toThrow();
  });
});
