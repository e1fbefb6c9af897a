import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run } from '@meshless/cli';
import { type ConsulConnection, parseKvListing } from '@meshless/consul';
import { freePort } from '@meshless/consul/testing';
import { type RuleSnapshot, RuleStore } from '@meshless/core';
import {
  builtinSections,
  formatGovernanceReport,
  GOVERNANCE_CHECK_NAME,
  governanceCheckId,
  parseGovernanceReport,
} from 'meshless';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { consulAddress, kvClient, uniquePrefix } from './helpers/consul.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshless-cli-'));
const { kv, connection } = kvClient();
const registered: string[] = [];

afterEach(async () => {
  for (const id of registered.splice(0)) {
    await connection.request({
      method: 'PUT',
      path: `/v1/agent/service/deregister/${encodeURIComponent(id)}`,
    });
  }
});
afterAll(async () => {
  await connection.close();
});

interface CliOptions {
  stdin?: string;
  beforeWrite?: (key: string) => Promise<void>;
}

/** Runs `meshless <args> --consul <shared agent>` in-process, capturing its output. */
async function cli(args: string[], options: CliOptions = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run([...args, '--consul', consulAddress()], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    ...(options.stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(options.stdin)]) }),
    ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
    cwd: dir,
    env: {},
  });
  return { code, stdout, stderr };
}

function file(name: string, content: unknown): string {
  writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return name;
}

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };
const goodRoutes = { subsets, routes: [{ to: [{ subset: 'stable' }] }] };
const badRoutes = {
  subsets,
  routes: [
    { match: { method: 'POST' }, to: [{ subset: 'canary' }] },
    {
      to: [
        { subset: 'stable', weight: 80 },
        { subset: 'canary', weight: 10 },
      ],
    },
  ],
};
const weightError = 'routes[1].to: weights sum to 90, expected 100';

describe('meshless CLI on a real Consul', () => {
  it('validate exits 1 with the field path, and prints ok for a valid document', async () => {
    const bad = await cli(['validate', file('bad-routes.json', badRoutes), '--kind', 'routes']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`invalid: bad-routes.json: ${weightError}\n`);
    const ok = await cli(['validate', file('good-routes.json', goodRoutes), '--kind', 'routes']);
    expect(ok).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('put refuses an invalid document with the field path and writes nothing', async () => {
    const prefix = uniquePrefix('cli-invalid');
    const res = await cli(['put', 'catalog', 'routes', file('bad.json', badRoutes), '--prefix', prefix]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`invalid: bad.json: ${weightError}`);
    expect(await kv.get(`${prefix}/services/catalog/routes`)).toBeUndefined();
  });

  it('put writes from stdin, get prints the document and its ModifyIndex', async () => {
    const prefix = uniquePrefix('cli-get');
    const yaml = 'timeoutMs: 250\nretry:\n  attempts: 2\n';
    const put = await cli(['put', 'catalog', 'policies', '-', '--prefix', prefix], { stdin: yaml });
    expect(put.code).toBe(0);
    const stored = await kv.get(`${prefix}/services/catalog/policies`);
    expect(stored?.value?.toString()).toBe(yaml);
    expect(put.stdout).toContain(
      `wrote ${prefix}/services/catalog/policies (ModifyIndex ${stored!.modifyIndex})`,
    );

    // The same bytes again: nothing to write, nothing to save.
    const again = await cli(['put', 'catalog', 'policies', '-', '--prefix', prefix], { stdin: yaml });
    expect(again.stdout).toContain(
      `unchanged: ${prefix}/services/catalog/policies already holds this document`,
    );
    expect((await kv.get(`${prefix}/services/catalog/policies`))!.modifyIndex).toBe(stored!.modifyIndex);
    expect(await kv.keys(`${prefix}-history/`)).toEqual([]);

    const get = await cli(['get', 'catalog', 'policies', '--prefix', prefix]);
    expect(get).toEqual({
      code: 0,
      stdout: yaml,
      stderr: `# ${prefix}/services/catalog/policies ModifyIndex ${stored!.modifyIndex}\n`,
    });
    const json = JSON.parse((await cli(['get', 'catalog', 'policies', '--prefix', prefix, '--json'])).stdout);
    expect(json).toMatchObject({
      modifyIndex: stored!.modifyIndex,
      valid: true,
      value: { timeoutMs: 250, retry: { attempts: 2 } },
    });

    expect((await cli(['get', 'resource', 'db.query', '--prefix', prefix])).code).toBe(4);
    // A document written around the CLI that instances would reject is flagged.
    await kv.put(`${prefix}/defaults/policies`, '{"timeoutMs": -5}');
    const flagged = await cli(['get', 'defaults', '--prefix', prefix]);
    expect(flagged.code).toBe(0);
    expect(flagged.stderr).toMatch(/warning: invalid.*timeoutMs: /);
  });

  it('reports a CAS conflict for a stale --cas and for a write between the read and the write', async () => {
    const prefix = uniquePrefix('cli-cas');
    const key = `${prefix}/services/catalog/policies`;
    await kv.put(key, { timeoutMs: 100 });
    const first = (await kv.get(key))!.modifyIndex;
    await kv.put(key, { timeoutMs: 200 });
    const second = (await kv.get(key))!.modifyIndex;

    // An operator working from the first read.
    const stale = await cli([
      'put',
      'catalog',
      'policies',
      file('p300.json', { timeoutMs: 300 }),
      '--cas',
      String(first),
      '--prefix',
      prefix,
    ]);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toBe(
      `conflict: ${key} was changed by someone else (index ${first} -> ${second}); get it again\n`,
    );

    // Another operator writes after this one read the index: Consul's CAS refuses the write.
    let concurrent = 0;
    const raced = await cli(['put', 'catalog', 'policies', 'p300.json', '--prefix', prefix], {
      beforeWrite: async (k) => {
        await kv.put(k, { timeoutMs: 999 });
        concurrent = (await kv.get(k))!.modifyIndex;
      },
    });
    expect(raced.code).toBe(3);
    expect(raced.stderr).toContain(`(index ${second} -> ${concurrent}); get it again`);
    expect(JSON.parse((await kv.get(key))!.value!.toString())).toEqual({ timeoutMs: 999 });

    // With the current index, the write goes through.
    const ok = await cli([
      'put',
      'catalog',
      'policies',
      'p300.json',
      '--cas',
      String(concurrent),
      '--prefix',
      prefix,
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse((await kv.get(key))!.value!.toString())).toEqual({ timeoutMs: 300 });
  });

  it('rollback restores the previous document with CAS, and is itself recorded in history', async () => {
    const prefix = uniquePrefix('cli-rollback');
    const key = `${prefix}/services/catalog/routes`;
    const v1 = { subsets, routes: [{ to: [{ subset: 'stable' }] }] };
    const v2 = { subsets, routes: [{ to: [{ subset: 'canary' }] }] };
    expect((await cli(['put', 'catalog', 'routes', file('v1.json', v1), '--prefix', prefix])).code).toBe(0);
    const i1 = (await kv.get(key))!.modifyIndex;
    expect((await cli(['put', 'catalog', 'routes', file('v2.json', v2), '--prefix', prefix])).code).toBe(0);
    const i2 = (await kv.get(key))!.modifyIndex;

    const back = await cli(['rollback', 'catalog', 'routes', '--prefix', prefix]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`rolled back to version ${i1}:`);
    const restored = (await kv.get(key))!;
    expect(JSON.parse(restored.value!.toString())).toEqual(v1);

    // The replaced v2 is in history, so the rollback can be undone by index.
    const history = JSON.parse(
      (await cli(['history', 'catalog', 'routes', '--prefix', prefix, '--json'])).stdout,
    );
    expect(history.current.index).toBe(restored.modifyIndex);
    expect(history.versions.map((v: { index: number }) => v.index)).toEqual([i2, i1]);
    expect(history.versions[0].savedAt).toBeGreaterThan(0);
    const shown = await cli(['history', 'catalog', 'routes', '--show', String(i2), '--prefix', prefix]);
    expect(JSON.parse(shown.stdout)).toEqual(v2);

    expect((await cli(['rollback', 'catalog', 'routes', '--to', String(i2), '--prefix', prefix])).code).toBe(
      0,
    );
    expect(JSON.parse((await kv.get(key))!.value!.toString())).toEqual(v2);
    expect((await cli(['rollback', 'catalog', 'routes', '--to', '1', '--prefix', prefix])).code).toBe(4);
  });

  it('history keeps the newest N versions, outside the rules prefix', async () => {
    const prefix = uniquePrefix('cli-history');
    const indexes: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const res = await cli(['put', 'resource', 'db.query', '-', '--keep', '3', '--prefix', prefix], {
        stdin: JSON.stringify({ timeoutMs: i * 10 }),
      });
      expect(res.code).toBe(0);
      indexes.push((await kv.get(`${prefix}/resources/db.query`))!.modifyIndex);
    }
    const stored = await kv.keys(`${prefix}-history/resources/db.query/`);
    expect(stored.sort()).toEqual(
      indexes
        .slice(2, 5)
        .map((i) => `${prefix}-history/resources/db.query/${i}`)
        .sort(),
    );
    // Instances watch `<prefix>/`: they never see history.
    expect(await kv.keys(`${prefix}/`)).toEqual([`${prefix}/resources/db.query`]);

    const table = (await cli(['history', 'resource', 'db.query', '--prefix', prefix])).stdout
      .trim()
      .split('\n');
    expect(table[0]).toMatch(/^INDEX +VERSION +SIZE$/);
    expect(table[1]).toMatch(new RegExp(`^${indexes[5]} +current +16 B$`));
    expect(table.slice(2).map((l) => Number(l.split(/\s+/)[0]))).toEqual([
      indexes[4],
      indexes[3],
      indexes[2],
    ]);
    expect(table[2]).toMatch(/replaced \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
  });

  it('status shows SYNCED, STALE and REJECTED per instance from the governance checks', async () => {
    const prefix = uniquePrefix('cli-status');
    const service = `catalog-${prefix.slice(-8)}`;
    const policies = `${prefix}/services/${service}/policies`;
    const routes = `${prefix}/services/${service}/routes`;
    await kv.put(policies, { timeoutMs: 100 });
    await kv.put(routes, goodRoutes);
    const before = await listing(connection, prefix);
    await kv.put(policies, { timeoutMs: 200 });
    await kv.put(routes, badRoutes); // around the CLI, as from the Consul UI
    const after = await listing(connection, prefix);

    await register(service, `${service}-a`, 8001);
    await register(service, `${service}-b`, 8002);
    await register(service, `${service}-c`, 8003);
    await report(`${service}-a`, before, after); // up to date: policies applied, routes rejected
    await report(`${service}-b`, before); // missed the last change
    // c never reports: its TTL check stays critical.

    const res = await cli(['status', service, '--prefix', prefix, '--json']);
    expect(res.code).toBe(0);
    const status = JSON.parse(res.stdout);
    const states = Object.fromEntries(
      status.instances.map((i: { id: string; keys: { key: string; state: string }[] }) => [
        i.id,
        i.keys.map((k) => `${k.key.split('/').pop()}:${k.state}`),
      ]),
    );
    expect(states).toEqual({
      [`${service}-a`]: ['policies:SYNCED', 'routes:REJECTED'],
      [`${service}-b`]: ['policies:STALE', 'routes:STALE'],
      [`${service}-c`]: ['policies:STALE', 'routes:STALE'],
    });
    const kvRoutes = (await kv.get(routes))!.modifyIndex;
    expect(status.instances[0].keys[1]).toMatchObject({
      kvIndex: kvRoutes,
      rejected: { index: kvRoutes, path: 'routes[1].to', message: weightError },
    });
    // A rejected document keeps the check passing (the instance runs its last good rules).
    expect(status.instances[0].governance).toBe('passing');

    const table = (await cli(['status', service, '--prefix', prefix])).stdout;
    expect(table).toMatch(
      new RegExp(
        `${service}-a +127\\.0\\.0\\.1:8001 .* services/${service}/routes +${kvRoutes} .*REJECTED +${literal(weightError)}`,
      ),
    );
    expect(table).toMatch(new RegExp(`${service}-c .*critical .*STALE +governance check critical`));
    expect(table).toContain('SYNCED 1, STALE 4, REJECTED 1');

    const none = await cli(['status', `${service}-nobody`, '--prefix', prefix]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain(`no instances of ${service}-nobody are registered`);
  });

  it('says it cannot reach Consul, without a stack trace, exit 5', async () => {
    const port = await freePort();
    let stderr = '';
    const code = await run(['get', 'catalog', 'routes', '--consul', `127.0.0.1:${port}`], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (stderr += s) },
    });
    expect(code).toBe(5);
    expect(stderr).toMatch(
      new RegExp(`^cannot reach Consul at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function listing(conn: ConsulConnection, prefix: string): Promise<RuleSnapshot> {
  return parseKvListing(await conn.request({ path: `/v1/kv/${prefix}/`, query: { recurse: true } }));
}

/** Registers an instance with the governance TTL check, as createMesh does. */
async function register(service: string, id: string, port: number): Promise<void> {
  registered.push(id);
  const res = await connection.request({
    method: 'PUT',
    path: '/v1/agent/service/register',
    body: JSON.stringify({
      ID: id,
      Name: service,
      Address: '127.0.0.1',
      Port: port,
      Check: { CheckID: governanceCheckId(id), Name: GOVERNANCE_CHECK_NAME, TTL: '10m' },
    }),
  });
  expect(res.status).toBe(200);
}

/** What an instance that applied these snapshots puts on its governance check. */
async function report(id: string, ...snapshots: RuleSnapshot[]): Promise<void> {
  const store = new RuleStore({
    prefix: snapshots[0]!.entries[0]!.key.split('/')[0]!,
    sections: builtinSections,
  });
  for (const s of snapshots) store.applySnapshot(s);
  const { status, output } = formatGovernanceReport(store.status());
  expect(parseGovernanceReport(output)).toBeDefined();
  const res = await connection.request({
    method: 'PUT',
    path: `/v1/agent/check/update/${encodeURIComponent(governanceCheckId(id))}`,
    body: JSON.stringify({ Status: status, Output: output }),
  });
  expect(res.status).toBe(200);
}
