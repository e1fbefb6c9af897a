import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@meshless/cli';
import {
  BlockingWatch,
  ConsulConnection,
  ConsulKv,
  markerKey,
  STATUS_FOLDER,
  statusKeyFor,
} from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { ConsulPermissionError } from '@meshless/core';
import { createMesh, type LogFields, type Logger, type MeshOptions, policiesSection } from 'meshless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/consul.ts';
import { rejectionOf, useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// Consul access done right, on an agent of this file's own with ACLs on and default deny: the
// token is never in a log line or an error; a 403 is a typed error naming the permission; the
// policies docs/security.md gives an instance and the CLI are exactly enough. HTTPS with client
// certificates: consul-access-https.test.ts.

const cleanup = useCleanupsAndNoUnhandledRejections();

const MASTER = randomUUID();
const PREFIX = 'meshless';

/** docs/security.md, "The ACL policy of an instance", for service `svc`. Keep the two in step. */
function instanceRules(svc: string, prefix = PREFIX): string {
  return [
    `service "${svc}" { policy = "write" intentions = "read" }`,
    'service_prefix "" { policy = "read" }',
    'node_prefix "" { policy = "read" }',
    `key_prefix "${prefix}/" { policy = "read" }`,
    `key_prefix "${prefix}/${STATUS_FOLDER}/" { policy = "write" }`,
  ].join('\n');
}

/** The same policy in the JSON form of ACL rules (docs/security.md's API example). */
function instanceRulesJson(svc: string, prefix = PREFIX): string {
  return JSON.stringify({
    service: { [svc]: { policy: 'write', intentions: 'read' } },
    service_prefix: { '': { policy: 'read' } },
    node_prefix: { '': { policy: 'read' } },
    key_prefix: { [`${prefix}/`]: { policy: 'read' }, [`${prefix}/${STATUS_FOLDER}/`]: { policy: 'write' } },
  });
}

/** docs/security.md, "The ACL policy of the CLI". */
const CLI_RULES = [
  `key_prefix "${PREFIX}/" { policy = "write" }`,
  `key_prefix "${PREFIX}-history/" { policy = "write" }`,
  'service_prefix "" { policy = "read" }',
  'node_prefix "" { policy = "read" }',
].join('\n');

/** Every log record, message and fields, as one line each (what an operator's log would hold). */
function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
    };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** An error as text, with everything reachable from it: message, stack, own fields, the cause chain. */
function errorText(error: unknown, depth = 0): string {
  if (depth > 8 || error === undefined || error === null) return '';
  if (typeof error !== 'object') return String(error);
  const e = error as Error & Record<string, unknown>;
  const own = Object.getOwnPropertyNames(e).map((k) => {
    try {
      return `${k}=${typeof e[k] === 'object' ? JSON.stringify(e[k]) : String(e[k])}`;
    } catch {
      return k;
    }
  });
  return [e.message, e.stack, ...own, errorText(e.cause, depth + 1)].join('\n');
}

const rejection = rejectionOf;

describe('ACLs on, default deny', () => {
  let agent: ConsulDevAgent;
  let root: ConsulConnection;
  let rootKv: ConsulKv;

  beforeAll(async () => {
    // Consul 1.8 names the bootstrap token `master`; 1.11+ calls it `initial_management`.
    agent = await ConsulDevAgent.start({
      args: [
        `-hcl=acl { enabled = true default_policy = "deny" tokens { master = "${MASTER}" agent = "${MASTER}" } }`,
      ],
    });
    root = new ConsulConnection({ address: agent.address, token: MASTER });
    rootKv = new ConsulKv(root);
  }, 40_000);
  afterAll(async () => {
    await root?.close();
    await agent?.stop();
  });

  /** A token whose only policy has `rules`; SecretID is the token, AccessorID its public name. */
  async function tokenWith(rules: string): Promise<{ SecretID: string; AccessorID: string }> {
    const policy = await root.json<{ ID: string }>({
      method: 'PUT',
      path: '/v1/acl/policy',
      body: JSON.stringify({ Name: `p-${randomUUID().slice(0, 8)}`, Rules: rules }),
    });
    return root.json({
      method: 'PUT',
      path: '/v1/acl/token',
      body: JSON.stringify({ Policies: [{ ID: policy.ID }] }),
    });
  }

  /** A mesh on this agent serving a plain HTTP server as `svc`, logging into `lines`. */
  async function meshAs(svc: string, token: string, extra: Partial<MeshOptions> = {}) {
    const server = createServer((_req, res) => res.end(JSON.stringify({ svc })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const { logger, lines } = capture();
    const options: MeshOptions = {
      consul: { address: agent.address, token },
      prefix: PREFIX,
      cacheDir: false,
      env: false,
      logger,
      readyTimeoutMs: 5000,
      service: { name: svc, port: (server.address() as AddressInfo).port, address: '127.0.0.1', drainMs: 0 },
      ...extra,
    };
    return { lines, start: () => createMesh(options) };
  }

  it("a mesh with exactly docs/security.md's instance policy registers, resolves, reads rules and writes its status, with no 403 anywhere", async () => {
    const api = `api-${randomUUID().slice(0, 8)}`;
    const web = `web-${randomUUID().slice(0, 8)}`;
    const apiToken = await tokenWith(instanceRulesJson(api));
    const webToken = await tokenWith(instanceRules(web));
    await rootKv.put(`${PREFIX}/services/${api}/policies`, { timeoutMs: 1234 });
    // A document that affects web and is rejected: web writes a status entry beside it.
    const bad = `${PREFIX}/services/${api}/balancer`;
    await rootKv.put(bad, { algorithm: 'no-such-algorithm' });

    const apiSide = await meshAs(api, apiToken.SecretID);
    const apiMesh = await apiSide.start();
    cleanup(() => apiMesh.close());
    const webSide = await meshAs(web, webToken.SecretID);
    const webMesh = await webSide.start();
    cleanup(() => webMesh.close());

    // Registered and passing (both), found by discovery, rules read, called.
    const passing = await root.json<unknown[]>({
      path: `/v1/health/service/${web}`,
      query: { passing: true },
    });
    expect(passing).toHaveLength(1);
    expect(webMesh.rules.get(policiesSection, api)).toEqual({ timeoutMs: 1234 });
    const res = await webMesh.client(api).fetch('/hello');
    expect(await res.json()).toEqual({ svc: api });
    // Status written: the marker and the entry beside the rejected key.
    await eventually(async () => (await rootKv.get(markerKey(PREFIX))) !== undefined, 5000, 'the marker');
    await eventually(
      async () => (await rootKv.get(statusKeyFor(PREFIX, bad))) !== undefined,
      5000,
      'the status entry',
    );
    // The Connect calls an instance makes are covered too: its leaf certificate, its intentions
    // and the authorize probe for its own service.
    const connect = new ConsulConnection({ address: agent.address, token: webToken.SecretID });
    cleanup(() => connect.close());
    const leaf = await connect.json<{ Service: string }>({ path: `/v1/agent/connect/ca/leaf/${web}` });
    expect(leaf.Service).toBe(web);
    expect(await connect.json({ path: '/v1/connect/intentions' })).toEqual([]);
    const verdict = await connect.json<{ Authorized: boolean }>({
      method: 'POST',
      path: '/v1/agent/connect/authorize',
      body: JSON.stringify({
        Target: web,
        ClientCertURI: `spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/${api}`,
      }),
    });
    expect(verdict.Authorized).toBe(false); // ACL default deny, no intention
    await webMesh.close();
    await apiMesh.close();

    const everything = [...webSide.lines, ...apiSide.lines];
    expect(everything.filter((l) => /403|Permission denied|lacks|permission/i.test(l))).toEqual([]);
    for (const secret of [webToken.SecretID, apiToken.SecretID])
      expect(everything.filter((l) => l.includes(secret))).toEqual([]);
  }, 30_000);

  it("the CLI with exactly docs/security.md's CLI policy puts (saving history), gets, rolls back and reports status", async () => {
    const svc = `cat-${randomUUID().slice(0, 8)}`;
    const cliToken = await tokenWith(CLI_RULES);
    const dir = mkdtempSync(join(tmpdir(), 'meshless-access-cli-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const cli = async (...args: string[]) => {
      let out = '';
      const code = await run([...args, '--consul', agent.address], {
        stdout: { write: (t: string) => (out += t) },
        stderr: { write: (t: string) => (out += t) },
        cwd: dir,
        env: { CONSUL_HTTP_TOKEN: cliToken.SecretID },
      });
      return { code, out };
    };
    writeFileSync(join(dir, 'p1.json'), JSON.stringify({ timeoutMs: 100 }));
    writeFileSync(join(dir, 'p2.json'), JSON.stringify({ timeoutMs: 200 }));
    const outputs: string[] = [];
    for (const args of [
      ['put', svc, 'policies', 'p1.json'],
      ['put', svc, 'policies', 'p2.json'],
      ['get', svc, 'policies'],
      ['history', svc, 'policies'],
      ['rollback', svc, 'policies'],
      ['status', svc],
    ]) {
      const { code, out } = await cli(...args);
      outputs.push(out);
      expect({ args, code, out }).toMatchObject({ code: 0 });
    }
    expect(
      JSON.parse((await rootKv.get(`${PREFIX}/services/${svc}/policies`))!.value.toString('utf8')),
    ).toEqual({
      timeoutMs: 100,
    });
    expect(outputs.filter((o) => /403|denied/i.test(o))).toEqual([]);
    // Outside its prefixes the CLI is refused with the permission named, and no token in sight.
    const refused = await cli('put', svc, 'policies', 'p1.json', '--prefix', 'elsewhere');
    expect(refused.code).not.toBe(0);
    // put reads the current version first (to save it to history), so the read is what is refused.
    expect(refused.out).toContain(`the ACL token lacks key:read on "elsewhere/services/${svc}/policies"`);
    expect(refused.out).not.toContain(cliToken.SecretID);
  }, 30_000);

  it('a 403 is a ConsulPermissionError naming the permission, in KV reads, watches and registration; the token is in no log line, error or status', async () => {
    const web = `web-${randomUUID().slice(0, 8)}`;
    const token = await tokenWith(instanceRules(web));
    // A token that may register web and nothing else: no discovery, no rules.
    const narrow = await tokenWith(`service "${web}" { policy = "write" }`);
    const secrets = [token.SecretID, narrow.SecretID];
    const texts: string[] = [];

    // 1. A KV key outside the prefix.
    await rootKv.put('secret/db-password', 'hunter2');
    const connection = new ConsulConnection({ address: agent.address, token: token.SecretID });
    cleanup(() => connection.close());
    const denied = await rejection(new ConsulKv(connection).get('secret/db-password'));
    expect(denied).toBeInstanceOf(ConsulPermissionError);
    expect(denied).toMatchObject({
      code: 'MESHLESS_CONSUL_PERMISSION_DENIED',
      status: 403,
      retryable: false,
      permission: 'key:read on "secret/db-password"',
    });
    expect((denied as Error).message).toBe(
      'consul GET /v1/kv/secret/db-password: HTTP 403 Permission denied; the ACL token lacks key:read on "secret/db-password"',
    );
    texts.push(errorText(denied));
    const write = await rejection(new ConsulKv(connection).put(`${PREFIX}/services/x/policies`, '{}'));
    expect(write).toMatchObject({ permission: `key:write on "${PREFIX}/services/x/policies"` });
    texts.push(errorText(write));

    // An unknown token: Consul says "ACL not found", which the error explains.
    const stranger = new ConsulConnection({ address: agent.address, token: randomUUID() });
    cleanup(() => stranger.close());
    const unknown = await rejection(new ConsulKv(stranger).get(`${PREFIX}/services/x/policies`));
    expect(unknown).toBeInstanceOf(ConsulPermissionError);
    expect((unknown as ConsulPermissionError).permission).toMatch(/^a token Consul knows/);

    // 2. A blocking watch on it: its onError gets the typed error (the background loops log it).
    const errors: unknown[] = [];
    const watch = new BlockingWatch({
      connection,
      path: '/v1/kv/secret/db-password',
      parse: (r) => r.body.toString('utf8'),
      onChange: () => {},
      onError: (error) => errors.push(error),
    });
    cleanup(() => watch.dispose());
    await eventually(() => errors.length > 0, 5000, 'the watch error');
    watch.dispose();
    await watch.done;
    expect(errors[0]).toBeInstanceOf(ConsulPermissionError);
    expect((errors[0] as ConsulPermissionError).permission).toBe('key:read on "secret/db-password"');
    texts.push(...errors.map((e) => errorText(e)));

    // 3. A mesh whose token may not register it: createMesh rejects with the typed error.
    const intruder = `intruder-${randomUUID().slice(0, 8)}`;
    const refused = await meshAs(intruder, token.SecretID);
    const refusal = await rejection(refused.start());
    expect(refusal).toBeInstanceOf(ConsulPermissionError);
    // Consul 1.8's own words for this endpoint; meshless prefers them to its table.
    expect((refusal as ConsulPermissionError).permission).toBe(`service:write on ${intruder}`);
    expect((refusal as Error).message).toMatch(
      new RegExp(
        `^register ${intruder}-.*: consul PUT /v1/agent/service/register: HTTP 403 Permission denied: Missing service:write on ${intruder}$`,
      ),
    );
    expect(refused.lines.some((l) => l.includes(`Missing service:write on ${intruder}`))).toBe(true);
    texts.push(errorText(refusal), ...refused.lines);

    // 4. A mesh that may register but not discover: Consul 1.8 filters the health list (200, no
    //    entries) instead of answering 403, so the call finds no endpoint; nothing leaks either way.
    const blind = await meshAs(web, narrow.SecretID, { readyTimeoutMs: 2000 });
    const blindMesh = await blind.start();
    cleanup(() => blindMesh.close());
    const callError = await rejection(
      blindMesh.client('somebody-else').fetch('/x', { signal: AbortSignal.timeout(3000) }),
    );
    texts.push(errorText(callError), JSON.stringify(blindMesh.status()), ...blind.lines);
    await blindMesh.close();
    texts.push(...blind.lines);

    expect(texts.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(texts.filter((t) => t.includes(secret))).toEqual([]);
  }, 30_000);
});
