import { ConsulKv } from '@meshless/consul';
import { afterAll, describe, expect, it } from 'vitest';
import { kvClient, uniquePrefix } from './helpers/consul.ts';

const { kv, connection } = kvClient();
afterAll(async () => {
  await connection.close();
});

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
});
