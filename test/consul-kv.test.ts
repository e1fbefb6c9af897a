import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { ConsulError } from '@meshless/core';
import { afterAll, describe, expect, it } from 'vitest';
import { kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const { kv, connection } = kvClient();
afterAll(async () => {
  await connection.close();
});

/** What a call rejected with (the test fails if it resolves). */
async function rejection(call: Promise<unknown>): Promise<ConsulError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConsulError);
  return error as ConsulError;
}

describe('ConsulKv on a real Consul', () => {
  it('keeps flags, lists a folder without its markers, and refuses a stale check-and-set', async () => {
    const prefix = uniquePrefix('kv');
    expect(await kv.put(`${prefix}/a`, Buffer.from('one'), { flags: 1_700_000_000_000 })).toBe(true);
    await kv.put(`${prefix}/b/`, '');
    await kv.put(`${prefix}/b/c`, { x: 1 });
    const a = (await kv.get(`${prefix}/a`))!;
    expect(a.flags).toBe(1_700_000_000_000);
    expect(a.value.toString('utf8')).toBe('one');
    const listed = await new ConsulKv(connection, { timeoutMs: 5000 }).list(`${prefix}/`);
    expect(listed.map((e) => e.key)).toEqual([`${prefix}/a`, `${prefix}/b/c`]);
    expect(await kv.put(`${prefix}/a`, 'two', { cas: a.modifyIndex - 1 })).toBe(false);
    expect(await kv.put(`${prefix}/a`, 'two', { cas: a.modifyIndex })).toBe(true);
    expect(await kv.list(`${prefix}-none/`)).toEqual([]);
  });

  it("refuses a value over Consul's 512 KiB limit as a non-retryable ConsulError 413, and writes nothing", async () => {
    const key = `${uniquePrefix('kv')}/big`;
    const limit = 512 * 1024;
    const error = await rejection(kv.put(key, Buffer.alloc(limit + 1, 'a')));
    expect(error).toMatchObject({ code: 'MESHLESS_CONSUL', status: 413, retryable: false });
    expect(error.message).toBe(`${key}: value too large for Consul (512 KiB limit)`);
    expect(await kv.get(key)).toBeUndefined();
    // The limit itself is accepted: the error is about the size, not the request.
    expect(await kv.put(key, Buffer.alloc(limit, 'a'))).toBe(true);
    expect((await kv.get(key))!.value.length).toBe(limit);
  });
});

describe('ConsulKv request time limit', () => {
  /** A loopback server that accepts connections and never answers: a hung agent, as callers see it. */
  async function hungConnection(): Promise<{ connection: ConsulConnection; sockets: Set<Socket> }> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    });
    const connection = new ConsulConnection({
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    cleanup(() => connection.close());
    return { connection, sockets };
  }

  /** How long a read through a ConsulKv limited to `timeoutMs` took to fail, and with what. */
  async function timedRead(kv: ConsulKv): Promise<{ ms: number; error: ConsulError }> {
    const started = performance.now();
    const error = await rejection(kv.get('meshless/services/a/routes'));
    return { ms: performance.now() - started, error };
  }

  it('fails a request to an agent that accepts and never answers within timeoutMs, as a retryable ConsulError', async () => {
    const { connection: hung, sockets } = await hungConnection();
    const limited = new ConsulKv(hung, { timeoutMs: 200 });

    // The limit fires on time: not on a coarse timer wheel's next step (undici's rounds to ~1 s).
    const { ms, error: read } = await timedRead(limited);
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(ms).toBeLessThan(450);
    expect(sockets.size).toBeGreaterThan(0);
    // No HTTP status: Consul never answered. A timeout may pass, so a caller may try again.
    expect(read).toMatchObject({ code: 'MESHLESS_CONSUL', status: undefined, retryable: true });
    expect(read.message).toBe('consul GET /v1/kv/meshless/services/a/routes: no answer in 200 ms');
    const write = await rejection(limited.put('meshless/services/a/routes', '{}', { cas: 0 }));
    expect(write.message).toBe('consul PUT /v1/kv/meshless/services/a/routes: no answer in 200 ms');
  });

  it('fires a limit above a second on time too, and each distinct limit on its own', async () => {
    const { connection: hung } = await hungConnection();
    // Started together on one connection: the shorter limit is not held back by the longer one.
    const [short, long] = await Promise.all([
      timedRead(new ConsulKv(hung, { timeoutMs: 300 })),
      timedRead(new ConsulKv(hung, { timeoutMs: 1500 })),
    ]);
    expect(short.ms).toBeGreaterThanOrEqual(300);
    expect(short.ms).toBeLessThan(550);
    expect(short.error.message).toMatch(/: no answer in 300 ms$/);
    expect(long.ms).toBeGreaterThanOrEqual(1500);
    expect(long.ms).toBeLessThan(1800);
    expect(long.error).toMatchObject({ code: 'MESHLESS_CONSUL', status: undefined, retryable: true });
    expect(long.error.message).toBe('consul GET /v1/kv/meshless/services/a/routes: no answer in 1500 ms');
  });

  it('counts the body in the limit: a slow body within it is read whole, one that never ends fails', async () => {
    // Headers at once, then the body in two parts: the second after 500 ms, or never.
    const pending = new Set<ServerResponse>();
    const server = createHttpServer((req, res) => {
      pending.add(res);
      res.on('close', () => pending.delete(res));
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '7' });
      res.write('[{"Key":"a","Value":null,');
      if (req.url?.includes('/slow')) setTimeout(() => res.end('"ModifyIndex":7}]'), 500);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup(async () => {
      for (const res of pending) res.destroy();
      await new Promise((r) => server.close(r));
    });
    const trickling = new ConsulConnection({
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    cleanup(() => trickling.close());

    const slow = await new ConsulKv(trickling, { timeoutMs: 800 }).get('slow');
    expect(slow).toMatchObject({ key: 'a', modifyIndex: 7 });
    const started = performance.now();
    const cut = await rejection(new ConsulKv(trickling, { timeoutMs: 300 }).get('endless'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(performance.now() - started).toBeLessThan(550);
    expect(cut.message).toBe('consul GET /v1/kv/endless: no answer in 300 ms');
  });
});

describe('ConsulKv with ACLs (default policy deny)', () => {
  const management = 'meshless-test-management-token';
  let agent: ConsulDevAgent;

  afterAll(async () => {
    await agent?.stop();
  });

  it('reports a write with a read-only token as a non-retryable ConsulError 403; the read works', async () => {
    agent = await ConsulDevAgent.start({
      args: [`-hcl=acl { enabled = true, default_policy = "deny", tokens { master = "${management}" } }`],
    });
    const admin = new ConsulConnection({ address: agent.address, token: management });
    cleanup(() => admin.close());
    const key = `${uniquePrefix('acl')}/routes`;
    expect(await new ConsulKv(admin).put(key, '{"routes": []}')).toBe(true);
    await admin.json({
      method: 'PUT',
      path: '/v1/acl/policy',
      body: JSON.stringify({ Name: 'kv-read', Rules: 'key_prefix "" { policy = "read" }' }),
    });
    const token = await admin.json<{ SecretID: string }>({
      method: 'PUT',
      path: '/v1/acl/token',
      body: JSON.stringify({ Policies: [{ Name: 'kv-read' }] }),
    });
    const reader = new ConsulConnection({ address: agent.address, token: token.SecretID });
    cleanup(() => reader.close());
    const readOnly = new ConsulKv(reader, { timeoutMs: 5000 });

    expect((await readOnly.get(key))!.value.toString('utf8')).toBe('{"routes": []}');
    const denied = await rejection(readOnly.put(key, '{"routes": [1]}'));
    expect(denied).toMatchObject({
      code: 'MESHLESS_CONSUL_PERMISSION_DENIED',
      status: 403,
      retryable: false,
      permission: `key:write on "${key}"`,
    });
    expect(denied.message).toBe(
      `consul PUT /v1/kv/${key}: HTTP 403 Permission denied; the ACL token lacks key:write on "${key}"`,
    );
    const deleteDenied = await rejection(readOnly.delete(key));
    expect(deleteDenied).toMatchObject({ status: 403, retryable: false });
    expect((await readOnly.get(key))!.value.toString('utf8')).toBe('{"routes": []}');

    // Without any token (the anonymous one, denied everything) a read is refused too, not "absent".
    const anonymous = new ConsulConnection({ address: agent.address, token: '' });
    cleanup(() => anonymous.close());
    expect(await rejection(new ConsulKv(anonymous).get(key))).toMatchObject({
      status: 403,
      retryable: false,
    });
  });
});
