import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv, resolveConsulOptions } from '@meshless/consul';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf, useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// HTTPS to a real agent with verify_incoming (it requires client certificates), certificates made
// by `consul tls` (docs/security.md, "HTTPS to the agent").

const cleanup = useCleanupsAndNoUnhandledRejections();

const rejection = rejectionOf;

describe('HTTPS to an agent that requires client certificates', () => {
  let agent: ConsulDevAgent;
  let dir: string;
  let httpsPort: number;
  let files: { ca: string; cert: string; key: string; caDir: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshless-consul-tls-'));
    const tls = (...args: string[]) => {
      const r = spawnSync('consul', ['tls', ...args], { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`consul tls ${args.join(' ')}: ${r.stderr}`);
    };
    tls('ca', 'create');
    tls('cert', 'create', '-server', '-dc', 'dc1');
    tls('cert', 'create', '-client', '-dc', 'dc1');
    files = {
      ca: join(dir, 'consul-agent-ca.pem'),
      cert: join(dir, 'dc1-client-consul-0.pem'),
      key: join(dir, 'dc1-client-consul-0-key.pem'),
      caDir: join(dir, 'cas'),
    };
    mkdirSync(files.caDir);
    copyFileSync(files.ca, join(files.caDir, 'ca.crt'));
    httpsPort = await freePort();
    agent = await ConsulDevAgent.start({
      args: [
        `-hcl=ports { https = ${httpsPort} }`,
        `-hcl=ca_file = "${files.ca}"`,
        `-hcl=cert_file = "${join(dir, 'dc1-server-consul-0.pem')}"`,
        `-hcl=key_file = "${join(dir, 'dc1-server-consul-0-key.pem')}"`,
        '-hcl=verify_incoming = true',
        '-hcl=verify_outgoing = true',
      ],
    });
    const plain = new ConsulConnection({ address: agent.address });
    await new ConsulKv(plain).put('tls/hello', 'over https');
    await plain.close();
  }, 40_000);
  afterAll(async () => {
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function connect(options: ConstructorParameters<typeof ConsulConnection>[0]) {
    const connection = new ConsulConnection(options);
    cleanup(() => connection.close());
    return new ConsulKv(connection, { timeoutMs: 5000 });
  }

  it('reads KV with caFile + certFile + keyFile, from options or the CONSUL_* environment, or the CA directory', async () => {
    const address = `https://127.0.0.1:${httpsPort}`;
    const kv = connect({ address, caFile: files.ca, certFile: files.cert, keyFile: files.key });
    expect((await kv.get('tls/hello'))!.value.toString('utf8')).toBe('over https');
    const fromEnv = connect(
      resolveConsulOptions(
        {},
        {
          CONSUL_HTTP_ADDR: address,
          CONSUL_CAPATH: files.caDir,
          CONSUL_CLIENT_CERT: files.cert,
          CONSUL_CLIENT_KEY: files.key,
          CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
        },
      ),
    );
    expect((await fromEnv.get('tls/hello'))!.value.toString('utf8')).toBe('over https');
  });

  it('without the client certificate, or against the wrong name, fails at once with a clear error', async () => {
    const address = `https://127.0.0.1:${httpsPort}`;
    const started = Date.now();
    const noCert = await rejection(connect({ address, caFile: files.ca }).get('tls/hello'));
    expect(Date.now() - started).toBeLessThan(4000);
    expect((noCert as Error).message).toMatch(/^consul GET \/v1\/kv\/tls\/hello: .*client certificate/);
    const wrongName = await rejection(
      connect({
        address,
        caFile: files.ca,
        certFile: files.cert,
        keyFile: files.key,
        tlsServerName: 'evil.example',
      }).get('tls/hello'),
    );
    expect((wrongName as Error).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    const untrusted = await rejection(
      connect({ address, certFile: files.cert, keyFile: files.key }).get('tls/hello'),
    );
    expect((untrusted as Error).message).toMatch(/consul GET \/v1\/kv\/tls\/hello: .*(CERT|certificate)/i);
  });
});
