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
  it('fails a request to an agent that accepts and never answers within timeoutMs, as a retryable ConsulError', async () => {
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
    const hung = new ConsulConnection({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
    cleanup(() => hung.close());
    const limited = new ConsulKv(hung, { timeoutMs: 200 });

    // undici's timer wheel rounds the limit up (to about 1 s): the request fails no sooner than asked.
    const started = performance.now();
    const read = await rejection(limited.get('meshless/services/a/routes'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(sockets.size).toBeGreaterThan(0);
    // No HTTP status: Consul never answered. A timeout may pass, so a caller may try again.
    expect(read).toMatchObject({ code: 'MESHLESS_CONSUL', status: undefined, retryable: true });
    expect(read.message).toBe('consul GET /v1/kv/meshless/services/a/routes: no answer in 200 ms');
    const write = await rejection(limited.put('meshless/services/a/routes', '{}', { cas: 0 }));
    expect(write.message).toBe('consul PUT /v1/kv/meshless/services/a/routes: no answer in 200 ms');
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
    expect(denied).toMatchObject({ code: 'MESHLESS_CONSUL', status: 403, retryable: false });
    expect(denied.message).toBe(`consul PUT /v1/kv/${key}: HTTP 403 Permission denied`);
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
