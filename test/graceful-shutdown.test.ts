import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';

describe('graceful shutdown on SIGTERM', () => {
  it('leaves discovery first, drains, deregisters and exits 0', async () => {
    const prefix = uniquePrefix('sig');
    const service = `signals-${prefix.slice(-8)}`;
    const id = `${service}-1`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/signal-instance.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          CONSUL_HTTP_ADDR: consulAddress(),
          TEST_PREFIX: prefix,
          TEST_SERVICE: service,
          TEST_ID: id,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const ready = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l).ready)),
    );
    expect(ready).toBe(id);
    const { connection } = kvClient();
    const passing = async () =>
      (await connection.json<unknown[]>({ path: `/v1/health/service/${service}`, query: { passing: true } }))
        .length;
    const registered = async () =>
      Object.keys(await connection.json<Record<string, unknown>>({ path: '/v1/agent/services' })).includes(
        id,
      );
    expect(await passing()).toBe(1);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // During the drain the instance is still registered but no longer passing (maintenance mode).
    await eventually(async () => (await passing()) === 0, 2000, 'out of ?passing');
    expect(await exited).toBe(0);
    expect(await registered()).toBe(false);
    await connection.close();
  });
});
