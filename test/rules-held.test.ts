import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv, markerKey } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Logger, policiesSection } from 'meshless';
import { describe, expect, it } from 'vitest';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// These tests run agents of their own (one with ACLs, ones they restart empty).
const cleanup = useCleanupsAndNoUnhandledRejections();

const ROOT = 'meshless-test-root-token';
const READ_RULES =
  'key_prefix "meshless/" { policy = "read" }\nkey_prefix "meshless/_status/" { policy = "write" }';

/** Collects error lines, as an operator's log would show them. */
function errorLog(): { logger: Logger; errors: string[] } {
  const errors: string[] = [];
  const noop = () => {};
  return { errors, logger: { debug: noop, info: noop, warn: noop, error: (m: string) => errors.push(m) } };
}

async function startAgent(acl: boolean): Promise<ConsulDevAgent> {
  const agent = await ConsulDevAgent.start(
    acl
      ? { args: [`-hcl=acl { enabled = true, default_policy = "deny", tokens { master = "${ROOT}" } }`] }
      : {},
  );
  cleanup(() => agent.stop());
  return agent;
}

/** An agent of its own with two rules, a KV client, and a mesh that applied them and wrote the marker. */
async function twoRulesAndAMesh() {
  const agent = await startAgent(false);
  const connection = new ConsulConnection({ address: agent.address });
  cleanup(() => connection.close());
  const kv = new ConsulKv(connection);
  await kv.put('meshless/services/catalog/policies', { timeoutMs: 300 });
  await kv.put('meshless/services/orders/policies', { timeoutMs: 400 });
  const mesh = await createMesh({ consul: { address: agent.address }, cacheDir: false, logger: 'silent' });
  cleanup(() => mesh.close());
  await eventually(async () => (await kv.get(markerKey('meshless'))) !== undefined, 3000, 'the marker');
  return { agent, kv, mesh };
}

describe('a prefix that reads as empty in one step', () => {
  it('keeps the last good rules, loudly, when the token loses key:read (ACL default deny), and applies them again when access returns', async () => {
    const agent = await startAgent(true);
    const root = new ConsulConnection({ address: agent.address, token: ROOT });
    cleanup(() => root.close());
    const kv = new ConsulKv(root);
    const policy = await root.json<{ ID: string }>({
      method: 'PUT',
      path: '/v1/acl/policy',
      body: JSON.stringify({ Name: 'meshless-instance', Rules: READ_RULES }),
    });
    const token = await root.json<{ SecretID: string }>({
      method: 'PUT',
      path: '/v1/acl/token',
      body: JSON.stringify({ Policies: [{ ID: policy.ID }] }),
    });
    const setRules = (rules: string) =>
      root.json({
        method: 'PUT',
        path: `/v1/acl/policy/${policy.ID}`,
        body: JSON.stringify({ Name: 'meshless-instance', Rules: rules }),
      });
    await kv.put('meshless/services/catalog/policies', { timeoutMs: 300 });
    await kv.put('meshless/services/orders/policies', { timeoutMs: 400 });

    const { logger, errors } = errorLog();
    const mesh = await createMesh({
      consul: { address: agent.address, token: token.SecretID },
      cacheDir: false,
      logger,
    });
    cleanup(() => mesh.close());
    expect(mesh.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    // The instance keeps the marker beside the rules (it may write under _status/ only).
    await eventually(async () => (await kv.get(markerKey('meshless'))) !== undefined, 3000, 'the marker');

    // A policy edit removes key:read. The blocking query in flight still answers with the old
    // permissions (Consul resolves the token when the query starts); the next one reads as empty.
    await setRules('key_prefix "elsewhere/" { policy = "read" }');
    let n = 500;
    const writeUntil = async (done: () => boolean, what: string) => {
      await eventually(
        async () => {
          if (done()) return true;
          await kv.put('meshless/services/stock/policies', { timeoutMs: n++ });
          await new Promise((r) => setTimeout(r, 200));
          return done();
        },
        8000,
        what,
      );
    };
    await writeUntil(() => mesh.status().rulesHeld?.reason === 'denied', 'the rules held as denied');
    expect(mesh.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    expect(mesh.rules.get(policiesSection, 'orders')).toEqual({ timeoutMs: 400 });
    expect(mesh.status().rulesHeld?.message).toMatch(/HTTP 403.*The last good \d rules stay in force/);
    expect(errors.some((e) => e.startsWith('RULES HELD: Consul denies reading'))).toBe(true);
    expect(await mesh.metrics()).toMatch(/^meshless_rules_held 1$/m);

    // Access comes back: the rules in KV apply again (stock's latest too).
    await setRules(READ_RULES);
    await writeUntil(() => mesh.rules.get(policiesSection, 'stock')?.timeoutMs === n - 1, 'rules again');
    expect(mesh.status().rulesHeld).toBeUndefined();
    expect(await mesh.metrics()).toMatch(/^meshless_rules_held 0$/m);
  }, 40_000);

  it('keeps the last good rules when Consul restarts empty, until an operator confirms with the marker', async () => {
    const { agent, kv, mesh } = await twoRulesAndAMesh();

    await agent.kill9();
    await agent.restart(); // dev mode: every key is gone, the marker too
    await eventually(() => mesh.status().rulesHeld?.reason === 'empty', 15_000, 'the rules held as empty');
    expect(mesh.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    expect(mesh.status().rulesHeld?.message).toContain(`consul kv put ${markerKey('meshless')} confirmed`);

    // The operator meant it: the marker confirms, and the defaults apply.
    await kv.put(markerKey('meshless'), 'confirmed');
    await eventually(() => mesh.rules.get(policiesSection, 'catalog') === undefined, 5000, 'defaults');
    expect(mesh.status().rulesHeld).toBeUndefined();
  }, 40_000);

  it('applies a deliberate deletion of every rule at once while the marker stays, and of a single last rule', async () => {
    const { kv, mesh } = await twoRulesAndAMesh();

    await kv.delete('meshless/services/', { recurse: true });
    await eventually(() => mesh.rules.get(policiesSection, 'catalog') === undefined, 5000, 'defaults');
    expect(mesh.rules.get(policiesSection, 'orders')).toBeUndefined();
    expect(mesh.status().rulesHeld).toBeUndefined();

    // Without a marker (a token that may not write it), one rule deleted is still meant.
    const other = await startAgent(false);
    const conn2 = new ConsulConnection({ address: other.address });
    cleanup(() => conn2.close());
    const kv2 = new ConsulKv(conn2);
    await kv2.put('meshless/services/catalog/policies', { timeoutMs: 300 });
    const solo = await createMesh({
      consul: { address: other.address },
      cacheDir: mkdtempSync(join(tmpdir(), 'meshless-held-')),
      logger: 'silent',
      governance: { statusEntries: false },
    });
    cleanup(() => solo.close());
    expect(solo.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    await kv2.delete('meshless/services/catalog/policies');
    await eventually(() => solo.rules.get(policiesSection, 'catalog') === undefined, 5000, 'defaults');
    expect(solo.status().rulesHeld).toBeUndefined();
  }, 40_000);

  it('a restart that finds the prefix empty keeps the rules it cached', async () => {
    const agent = await startAgent(false);
    const connection = new ConsulConnection({ address: agent.address });
    cleanup(() => connection.close());
    const kv = new ConsulKv(connection);
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-held-cache-'));
    await kv.put('meshless/services/catalog/policies', { timeoutMs: 300 });
    await kv.put('meshless/services/orders/policies', { timeoutMs: 400 });
    const first = await createMesh({ consul: { address: agent.address }, cacheDir, logger: 'silent' });
    await first.close();

    await agent.kill9();
    await agent.restart();
    const second = await createMesh({ consul: { address: agent.address }, cacheDir, logger: 'silent' });
    cleanup(() => second.close());
    expect(second.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    await eventually(() => second.status().rulesHeld?.reason === 'empty', 5000, 'held');
    expect(second.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
  }, 40_000);
});
