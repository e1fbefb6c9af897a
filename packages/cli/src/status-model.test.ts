import { type RawRule, RuleStore } from '@meshless/core';
import { builtinSections, formatGovernanceReport, governanceCheckId, keyAffects } from 'meshless/contract';
import { describe, expect, it } from 'vitest';
import { buildServiceStatus, type HealthEntry } from './status-model.ts';

const encoder = new TextEncoder();
const routes = 'meshless/services/catalog/routes';
const policies = 'meshless/services/catalog/policies';

function raw(key: string, value: unknown, modifyIndex: number): RawRule {
  return { key, value: encoder.encode(JSON.stringify(value)), modifyIndex };
}

/** An instance whose governance check carries the report of a RuleStore fed these snapshots. */
function instance(id: string, snapshots: RawRule[][] | undefined, checkStatus?: string): HealthEntry {
  let output: string | undefined;
  let status = checkStatus;
  if (snapshots) {
    const store = new RuleStore({ prefix: 'meshless', sections: builtinSections });
    snapshots.forEach((entries, i) => {
      store.applySnapshot({ index: i + 1, entries, origin: 'source' });
    });
    const update = formatGovernanceReport(store.status());
    output = update.output;
    status ??= update.status;
  }
  return {
    Node: { Node: 'n1', Address: '10.0.0.1' },
    Service: { ID: id, Service: 'catalog', Address: '', Port: 8080 },
    Checks: [
      { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', ServiceID: '' },
      ...(status === undefined
        ? []
        : [
            {
              CheckID: governanceCheckId(id),
              Name: 'meshless governance',
              Status: status,
              Output: output ?? '',
              ServiceID: id,
            },
          ]),
    ],
  };
}

const good = raw(routes, { subsets: { stable: {} } }, 10);
const bad = raw(routes, { subsets: { stable: {} }, routes: [{ to: [{ subset: 'nope' }] }] }, 12);

describe('buildServiceStatus', () => {
  it('tells SYNCED, STALE and REJECTED apart per instance and key', () => {
    const kv = new Map([
      [routes, 12],
      [policies, 20],
    ]);
    const status = buildServiceStatus(
      'catalog',
      'meshless',
      [
        instance('c-synced-policies', [
          [good, raw(policies, {}, 20)],
          [bad, raw(policies, {}, 20)],
        ]),
        instance('c-old', [[good, raw(policies, {}, 20)]]),
        instance('c-silent', undefined, 'critical'),
      ],
      kv,
    );
    const states = Object.fromEntries(
      status.instances.map((i) => [i.id, i.keys.map((k) => `${k.key.split('/').pop()}:${k.state}`)]),
    );
    expect(states).toEqual({
      'c-old': ['policies:SYNCED', 'routes:STALE'],
      'c-silent': ['policies:STALE', 'routes:STALE'],
      'c-synced-policies': ['policies:SYNCED', 'routes:REJECTED'],
    });
    const rejected = status.instances[2]!.keys[1]!;
    expect(rejected).toMatchObject({ kvIndex: 12, applied: 10, state: 'REJECTED' });
    expect(rejected.detail).toMatch(/^routes\[0\]\.to\[0\]\.subset: .*\(10 stays in force\)$/);
    expect(status.instances[0]!.keys[1]!.detail).toBe('not yet applied');
    expect(status.instances[1]!.keys[0]!.detail).toMatch(/critical/);
    expect(status.instances[2]).toMatchObject({
      health: 'passing',
      // A rejected document keeps the check passing by default.
      governance: 'passing',
      address: '10.0.0.1:8080',
    });
    expect(status.totals).toEqual({ SYNCED: 2, STALE: 3, REJECTED: 1 });
  });

  it('shows an instance that says what it uses only the keys that affect it', () => {
    const store = new RuleStore({ prefix: 'meshless', sections: builtinSections });
    const inbound = 'meshless/services/catalog/inbound';
    store.applySnapshot({
      index: 1,
      entries: [raw(inbound, {}, 5), raw(routes, { subsets: {} }, 6)],
      origin: 'source',
    });
    const uses = { calls: [], resources: [] };
    const { output } = formatGovernanceReport(store.status(), {
      uses,
      relevant: (key) => keyAffects(key.slice('meshless/'.length), 'catalog', uses),
    });
    const entry = {
      Service: { ID: 'c-1', Service: 'catalog' },
      Checks: [
        { CheckID: governanceCheckId('c-1'), Name: 'meshless governance', Status: 'passing', Output: output },
      ],
    };
    const kv = new Map([
      [inbound, 5],
      [routes, 6],
    ]);
    const status = buildServiceStatus('catalog', 'meshless', [entry], kv);
    // catalog's routes are applied by its callers, not by catalog: not a STALE row here.
    expect(status.instances[0]!.keys.map((k) => `${k.key}:${k.state}`)).toEqual([`${inbound}:SYNCED`]);
  });

  it('lists keys only an instance reports, and a key deleted from KV as STALE where it is still held', () => {
    const other = raw('meshless/services/inventory/balancer', { algorithm: 'random' }, 7);
    const status = buildServiceStatus(
      'catalog',
      'meshless',
      [instance('c-1', [[other, good]]), instance('c-2', [[]])],
      new Map([['meshless/services/inventory/balancer', 7]]),
    );
    expect(status.keys).toEqual([
      { key: 'meshless/services/catalog/routes', kvIndex: null },
      { key: 'meshless/services/inventory/balancer', kvIndex: 7 },
    ]);
    expect(status.instances.map((i) => i.keys.map((k) => k.state))).toEqual([
      ['STALE', 'SYNCED'],
      ['SYNCED', 'STALE'],
    ]);
    expect(status.instances[0]!.keys[0]!.detail).toBe('deleted in KV, still held here');
    expect(status.instances[1]!.keys[1]!.detail).toBe('not reported');
  });

  it('marks every key STALE for an instance without a governance check', () => {
    const status = buildServiceStatus(
      'catalog',
      'meshless',
      [instance('c-1', undefined)],
      new Map([[routes, 3]]),
    );
    expect(status.instances[0]).toMatchObject({ governance: 'missing', reported: false });
    expect(status.instances[0]!.keys[0]).toMatchObject({ state: 'STALE', detail: 'no governance check' });
  });
});
