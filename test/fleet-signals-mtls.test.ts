import { randomUUID } from 'node:crypto';
import { FleetSignals, type FleetSignalsReport, run } from '@meshless/cli';
import { ConsulConnection, type ConsulRequest } from '@meshless/consul';
import { describe, expect, it } from 'vitest';
import { runConcurrently } from './helpers/backends.ts';
import { testNames, useConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService, untilAllowed, type ZtService } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
// ACLs on, default deny: nothing is allowed unless an intention says so.
const agent = useConnectAgent({ acl: true });

/** The agent's connection, recording every path it is asked for (the Connect calls the reader makes). */
class RecordingConnection extends ConsulConnection {
  readonly paths: string[] = [];
  override request(req: ConsulRequest) {
    this.paths.push(req.path);
    return super.request(req);
  }
}

function connection(): RecordingConnection {
  const c = new RecordingConnection({ address: agent.address, token: agent.masterToken });
  cleanup(() => c.close());
  return c;
}

/** web and api, both zero trust with inbound.mtls strict (mutual TLS only); web may call api. */
async function strictPair(tag: string) {
  const n = testNames(tag, ['api', 'web'] as const);
  const strict = { zeroTrust: { inbound: 'strict' as const } };
  const api = await startZtService(agent, n.api, n.prefix, cleanup, strict);
  const web = await startZtService(agent, n.web, n.prefix, cleanup, strict);
  await agent.addIntention(n.web, n.api, 'allow');
  await eventually(() => web.mesh.client(n.api).status().endpoints > 0, 5000, 'api discovered');
  await untilAllowed(web.mesh, n.api);
  return { n, api, web };
}

async function calls(from: ZtService, service: string, count: number): Promise<void> {
  await runConcurrently(count, 4, async () => {
    const res = await from.mesh.client(service).fetch('/items');
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  });
}

function instance(report: FleetSignalsReport, service: string) {
  return report.instances.find((i) => i.service === service)!;
}

/** A token of a policy with exactly `rules` (the master token makes both). */
async function aclToken(rules: string[]): Promise<string> {
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${agent.agent.url}${path}`, {
      method: 'PUT',
      headers: { 'x-consul-token': agent.masterToken },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as { SecretID?: string };
  };
  const name = `cli-${randomUUID().slice(0, 8)}`;
  await put('/v1/acl/policy', { Name: name, Rules: rules.join('\n') });
  return (await put('/v1/acl/token', { Description: name, Policies: [{ Name: name }] })).SecretID!;
}

// One `meshless-cli -> *` allow for the file (a second identical intention is an error in Consul).
let cliAllowed: Promise<string> | undefined;

describe('fleet signals from instances that take only mutual TLS (real Consul, Connect, ACLs default deny)', () => {
  it('reads an mTLS-only instance over mutual TLS as meshless-cli, with exact counts; plain reads are refused', async () => {
    const { n, api, web } = await strictPair('sigtls');
    cliAllowed ??= agent.addIntention('meshless-cli', '*', 'allow');
    await cliAllowed;

    // What the instance advertises: the signals path, and Connect-native (so: https, with a certificate).
    const consul = connection();
    const [entry] = (await consul.json({ path: `/v1/health/service/${n.api}` })) as {
      Service: { Meta: Record<string, string>; Connect?: { Native?: boolean } };
    }[];
    expect(entry!.Service.Meta['meshless-signals']).toBe('/meshless/signals');
    expect(entry!.Service.Connect?.Native).toBe(true);
    // A plain read of a strict instance is refused like any plain call (it was answered before).
    const plain = await fetch(`http://127.0.0.1:${api.port}/meshless/signals`);
    expect(plain.status).toBe(403);
    expect(await plain.json()).toEqual({ error: 'mtls_required', code: 'MESHLESS_MTLS_REQUIRED' });

    const reader = new FleetSignals({ consul, services: [n.web, n.api] });
    cleanup(() => reader.close());
    // The baseline; the intention may take a moment to reach the instances.
    await eventually(
      async () => (await reader.read(200)).instances.every((i) => i.ok),
      5000,
      'both instances answer the reader',
    );
    const started = performance.now();
    await calls(web, n.api, 40);
    const report = await reader.read(performance.now() - started);

    expect(report.instances.map((i) => [i.service, i.ok, i.url.split(':')[0]]).sort()).toEqual([
      [n.api, true, 'https'],
      [n.web, true, 'https'],
    ]);
    // Exact counts: every call of the window, from the caller's side and the callee's.
    expect(report.edges).toContainEqual(
      expect.objectContaining({ caller: n.web, service: n.api, requests: 40, errors: 0 }),
    );
    expect(report.services.find((s) => s.service === n.api)).toMatchObject({ requests: 40, errors: 0 });
    // The reader's certificate is a leaf for meshless-cli from the local agent.
    expect(consul.paths).toContain('/v1/agent/connect/ca/leaf/meshless-cli');
    expect(consul.paths).toContain('/v1/agent/connect/ca/roots');
  }, 60_000);

  it('shows an instance whose intentions deny the reader, or whose certificate names another service, as an instance error', async () => {
    const { n, api } = await strictPair('sigdeny');
    const reader = `reader-${randomUUID().slice(0, 8)}`;
    await agent.addIntention(reader, '*', 'allow');
    // More precise than the wildcard: this reader may not read api.
    await agent.addIntention(reader, n.api, 'deny');
    // An impostor: registered Connect-native as another service, at api's port (api's certificate).
    const impostor = `imp-${n.api}`;
    const consul = connection();
    await consul.json({
      method: 'PUT',
      path: '/v1/agent/service/register',
      body: JSON.stringify({
        Name: impostor,
        ID: impostor,
        Address: '127.0.0.1',
        Port: api.port,
        Meta: { 'meshless-signals': '/meshless/signals' },
        Connect: { Native: true },
      }),
    });
    cleanup(() =>
      consul.json({ method: 'PUT', path: `/v1/agent/service/deregister/${impostor}` }).then(() => {}),
    );

    const fleet = new FleetSignals({ consul, services: [n.web, n.api, impostor], identity: reader });
    cleanup(() => fleet.close());
    let report: FleetSignalsReport | undefined;
    await eventually(
      async () => {
        report = await fleet.read(200);
        return instance(report, n.web).ok;
      },
      5000,
      'web lets the reader in',
    );
    expect(instance(report!, n.api)).toMatchObject({
      ok: false,
      error: `HTTP 403 MESHLESS_INTENTION_DENIED: no intention allows ${reader} -> ${n.api}`,
    });
    expect(instance(report!, impostor).ok).toBe(false);
    expect(instance(report!, impostor).error).toMatch(
      new RegExp(`server is not ${impostor}: its certificate names service ${n.api}$`),
    );
    expect(consul.paths).toContain(`/v1/agent/connect/ca/leaf/${reader}`);

    // The command: --as names the identity; one that no intention allows gets an error per instance.
    const cli = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await run([...args, '--consul', agent.address], {
        stdout: { write: (x: string) => (stdout += x) },
        stderr: { write: (x: string) => (stderr += x) },
        env: { CONSUL_HTTP_TOKEN: agent.masterToken },
      });
      return { code, stdout, stderr };
    };
    const denied = await cli(['signals', n.web, n.api, '--window', '1000', '--as', `nobody-${reader}`]);
    expect(denied.stderr).toBe('');
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain('2 of 2 instances did not answer');
    expect(denied.stdout).toContain(`no intention allows nobody-${reader} -> ${n.api}`);
    const allowed = await cli(['signals', n.web, n.api, '--window', '1000', '--as', reader, '--json']);
    expect(allowed.code).toBe(0);
    const json = JSON.parse(allowed.stdout) as FleetSignalsReport;
    expect(json.instances.map((i) => [i.service, i.ok]).sort()).toEqual([
      [n.api, false],
      [n.web, true],
    ]);
    expect((await cli(['signals', '--as', 'no/slash'])).code).toBe(2);
  }, 60_000);

  it('reads them with a token of the CLI policy in docs/security.md; without its meshless-cli rule each says why', async () => {
    const { n } = await strictPair('sigacl');
    cliAllowed ??= agent.addIntention('meshless-cli', '*', 'allow');
    await cliAllowed;
    const policy = [
      'key_prefix "meshless/" { policy = "write" }',
      'key_prefix "meshless-history/" { policy = "write" }',
      'service_prefix "" { policy = "read" }',
      'node_prefix "" { policy = "read" }',
    ];
    const reader = async (rules: string[]) => {
      const fleet = new FleetSignals({
        consul: { address: agent.address, token: await aclToken(rules) },
        services: [n.web, n.api],
      });
      cleanup(() => fleet.close());
      return fleet;
    };
    const withRule = await reader([...policy, 'service "meshless-cli" { policy = "write" }']);
    // The intention may take a moment to reach instances this new.
    await eventually(
      async () => (await withRule.read(200)).instances.every((i) => i.ok),
      5000,
      'both instances answer a reader with the CLI policy',
    );
    const refused = await reader(policy);
    const started = performance.now();
    const without = await refused.read(200);
    // The agent's 403 ends the wait for the certificate at once (it used to wait out 10 s).
    expect(performance.now() - started).toBeLessThan(5000);
    expect(without.instances.map((i) => i.ok)).toEqual([false, false]);
    for (const i of without.instances) {
      expect(i.error).toBe(
        'no Connect certificate for meshless-cli: consul GET /v1/agent/connect/ca/leaf/meshless-cli: ' +
          'HTTP 403 Permission denied; the ACL token lacks service:write on "meshless-cli"',
      );
    }
  }, 60_000);

  it('reads plain instances as before, asking nothing of Connect', async () => {
    const n = testNames('sigplain', ['api'] as const);
    const api = await startZtService(agent, n.api, n.prefix, cleanup, { zeroTrust: false });
    const consul = connection();
    const reader = new FleetSignals({ consul, services: [n.api] });
    cleanup(() => reader.close());
    const report = await reader.read(200);
    expect(report.instances).toEqual([
      expect.objectContaining({
        service: n.api,
        ok: true,
        url: `http://127.0.0.1:${api.port}/meshless/signals`,
      }),
    ]);
    expect(consul.paths.filter((p) => p.includes('/connect/'))).toEqual([]);
  }, 30_000);
});
