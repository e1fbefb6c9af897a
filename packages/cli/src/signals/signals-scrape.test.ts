import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@meshless/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetSignals } from './fleet-signals.ts';
import { DEFAULT_SCRAPE_LIMITS, type SignalsInstance, scrapeInstance } from './signals-scrape.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A loopback instance answering every request with `status` and `body`. */
async function instanceAnswering(status: number, body: string, mtls = false): Promise<SignalsInstance> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    service: 'api',
    id: 'api-1',
    version: '',
    url: `${mtls ? 'https' : 'http'}://127.0.0.1:${port}/meshless/signals`,
    mtls,
  };
}

describe('scrapeInstance: refusals', () => {
  it("names a refusal's meshless error code", async () => {
    const i = await instanceAnswering(403, '{"error":"mtls_required","code":"MESHLESS_MTLS_REQUIRED"}');
    expect((await scrapeInstance(i, DEFAULT_SCRAPE_LIMITS)).error).toBe('HTTP 403 MESHLESS_MTLS_REQUIRED');
  });

  it('never echoes what is not a code (the answer is the instance’s text)', async () => {
    for (const body of [
      '{"code":"<b>x</b>"}',
      '{"code":"MESHLESS_OK\\nforged line"}',
      'not json',
      '{"code":7}',
    ]) {
      const i = await instanceAnswering(403, body);
      expect((await scrapeInstance(i, DEFAULT_SCRAPE_LIMITS)).error).toBe('HTTP 403');
    }
    const long = await instanceAnswering(503, `{"code":"MESHLESS_X","pad":"${'x'.repeat(4000)}"}`);
    expect((await scrapeInstance(long, DEFAULT_SCRAPE_LIMITS)).error).toBe('HTTP 503');
  });

  it('does not read a Connect-native instance over plain HTTP', async () => {
    const i = await instanceAnswering(200, '{}', true);
    expect((await scrapeInstance(i, DEFAULT_SCRAPE_LIMITS)).error).toBe(
      'Connect-native: needs mutual TLS (no identity given)',
    );
  });
});

describe('FleetSignals: identity', () => {
  it('takes a service name only (it goes into the leaf path and the SPIFFE id)', () => {
    for (const identity of ['', 'a/b', '../x', 'a b', 'x'.repeat(64)]) {
      expect(() => new FleetSignals({ consul: { address: 'http://127.0.0.1:1' }, identity })).toThrow(
        ConfigError,
      );
    }
    expect(() => new FleetSignals({ consul: { address: 'http://127.0.0.1:1' }, identity: '' })).toThrow(
      /^identity: expected a service name/,
    );
  });
});
