import { type RawRule, RuleStore, type RuleStoreStatus } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import {
  formatGovernanceReport,
  GOVERNANCE_OUTPUT_MAX_BYTES,
  governanceCheckId,
  keyAffects,
  parseGovernanceReport,
} from './governance-report.ts';
import { builtinSections } from './rules/index.ts';

const encoder = new TextEncoder();

function rule(key: string, value: unknown, modifyIndex: number): RawRule {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { key: `meshless/${key}`, value: encoder.encode(text), modifyIndex };
}

/** A real RuleStore fed one snapshot, so rejections carry the messages instances really produce. */
function statusOf(...snapshots: RawRule[][]): RuleStoreStatus {
  const store = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock: new ManualClock() });
  snapshots.forEach((entries, i) => {
    store.applySnapshot({ index: 100 + i, entries, origin: 'source' });
  });
  return store.status();
}

const badRoutes = {
  subsets: { stable: {}, canary: {} },
  routes: [
    { match: { method: 'POST' }, to: [{ subset: 'stable' }] },
    {
      to: [
        { subset: 'stable', weight: 80 },
        { subset: 'canary', weight: 10 },
      ],
    },
  ],
};

describe('formatGovernanceReport', () => {
  it('passes with a summary and the applied index of every key', () => {
    const status = statusOf([
      rule('services/catalog/policies', { timeoutMs: 300 }, 7),
      rule('defaults/policies', { timeoutMs: 1000 }, 9),
    ]);
    const { status: checkStatus, output } = formatGovernanceReport(status);
    expect(checkStatus).toBe('passing');
    const lines = output.split('\n');
    expect(lines[0]).toBe('meshless governance: 2 rules in force');
    expect(lines.at(-1)).toMatch(/^meshless-status: \{/);
    expect(parseGovernanceReport(output)).toEqual({
      v: 1,
      index: 100,
      keys: {
        'meshless/defaults/policies': { applied: 9, rejected: null },
        'meshless/services/catalog/policies': { applied: 7, rejected: null },
      },
    });
  });

  it('reports a rejected value with key, index, field path and the version in force, and stays passing', () => {
    const status = statusOf(
      [rule('services/catalog/routes', { subsets: { stable: {} } }, 120)],
      [rule('services/catalog/routes', badRoutes, 123), rule('services/catalog/policies', {}, 124)],
    );
    const { status: checkStatus, output } = formatGovernanceReport(status);
    expect(checkStatus).toBe('passing');
    expect(formatGovernanceReport(status, { rejectionStatus: 'warning' }).status).toBe('warning');
    const lines = output.split('\n');
    expect(lines[0]).toBe(
      'meshless governance: 1 document REJECTED (the last good version stays in force), 1 other rule in force',
    );
    expect(lines[1]).toBe(
      'REJECTED meshless/services/catalog/routes version 123: routes[1].to: weights sum to 90, expected 100 (version 120 stays in force)',
    );
    // The last good document stays in force: the report says which one.
    expect(parseGovernanceReport(output)?.keys['meshless/services/catalog/routes']).toEqual({
      applied: 120,
      rejected: {
        index: 123,
        path: 'routes[1].to',
        message: 'routes[1].to: weights sum to 90, expected 100',
      },
    });
  });

  it('reports a key outside the layout and an unparsable value as rejected without a last good one', () => {
    const status = statusOf([rule('services/catalog/nonsense', '{}', 5), rule('resources/db', '{"a":', 6)]);
    const { status: checkStatus, output } = formatGovernanceReport(status, { rejectionStatus: 'warning' });
    expect(checkStatus).toBe('warning');
    expect(output).toContain('REJECTED meshless/resources/db version 6: invalid JSON');
    expect(output).toMatch(/invalid JSON.*\(the defaults apply\)/);
    const report = parseGovernanceReport(output)!;
    expect(report.keys['meshless/resources/db']).toMatchObject({
      applied: null,
      rejected: { index: 6, path: '' },
    });
    expect(report.keys['meshless/services/catalog/nonsense']?.rejected?.message).toMatch(
      /outside the layout/,
    );
  });

  it('says so when no rule exists and when rules come from the disk cache', () => {
    expect(formatGovernanceReport(statusOf([])).output.split('\n')[0]).toBe(
      'meshless governance: no rules for this instance in KV (built-in defaults apply)',
    );
    const store = new RuleStore({ prefix: 'meshless', sections: builtinSections });
    store.applySnapshot({ index: 3, entries: [rule('defaults/policies', {}, 3)], origin: 'cache' });
    expect(formatGovernanceReport(store.status()).output).toMatch(
      /^meshless governance: 1 rule in force.*cache/,
    );
  });

  it('stays under the limit by cutting human lines first and keeping the JSON whole', () => {
    const entries = [
      ...Array.from({ length: 18 }, (_, i) => rule(`services/s${i}/routes`, badRoutes, 200 + i)),
      ...Array.from({ length: 4 }, (_, i) => rule(`services/s${i}/policies`, {}, 300 + i)),
    ];
    const { status, output } = formatGovernanceReport(statusOf(entries), { rejectionStatus: 'warning' });
    expect(status).toBe('warning');
    expect(Buffer.byteLength(output)).toBeLessThanOrEqual(GOVERNANCE_OUTPUT_MAX_BYTES);
    const report = parseGovernanceReport(output)!;
    expect(report.truncated).toBeUndefined();
    expect(Object.keys(report.keys)).toHaveLength(22);
    const lines = output.split('\n');
    expect(lines[0]).toBe(
      'meshless governance: 18 documents REJECTED (the last good version stays in force), 4 other rules in force',
    );
    const shown = lines.filter((l) => l.startsWith('REJECTED ')).length;
    expect(shown).toBeLessThan(18);
    expect(lines.at(-2)).toBe(`... ${18 - shown} more rejected (meshless status shows them all)`);
  });

  it('drops keys with nothing rejected from the JSON, marked truncated, when the JSON alone is too long', () => {
    const entries = [
      rule('services/catalog/routes', badRoutes, 50),
      ...Array.from({ length: 200 }, (_, i) => rule(`resources/resource-with-a-long-name-${i}`, {}, 100 + i)),
    ];
    const { output } = formatGovernanceReport(statusOf(entries));
    expect(Buffer.byteLength(output)).toBeLessThanOrEqual(GOVERNANCE_OUTPUT_MAX_BYTES);
    const report = parseGovernanceReport(output)!;
    expect(report.truncated).toBe(true);
    expect(Object.keys(report.keys)).toEqual(['meshless/services/catalog/routes']);
    expect(output.split('\n')[0]).toBe(
      'meshless governance: 1 document REJECTED (the last good version stays in force), 200 other rules in force',
    );
  });

  it('keeps within a smaller limit even when every key is rejected', () => {
    const entries = Array.from({ length: 100 }, (_, i) =>
      rule(`services/service-${i}/routes`, badRoutes, i + 1),
    );
    const { output } = formatGovernanceReport(statusOf(entries), { maxBytes: 1024 });
    expect(Buffer.byteLength(output)).toBeLessThanOrEqual(1024);
    const report = parseGovernanceReport(output)!;
    expect(report.truncated).toBe(true);
    expect(Object.keys(report.keys).length).toBeGreaterThan(0);
  });

  it('adds notes after the rejected lines, and cuts multi-byte text on a character boundary', () => {
    const status = statusOf([rule('defaults/policies', {}, 1)]);
    const { output } = formatGovernanceReport(status, { notes: ['version v2, zone eu-1a', 'é'.repeat(400)] });
    const lines = output.split('\n');
    expect(lines[1]).toBe('version v2, zone eu-1a');
    expect(Buffer.byteLength(lines[2]!)).toBeLessThanOrEqual(300);
    expect(lines[2]).toMatch(/^é+\.\.\.$/);
  });
});

describe('formatGovernanceReport for one instance', () => {
  it('reports only the keys that affect the instance, says what it uses, and puts a hold first', () => {
    const status = statusOf([
      rule('services/orders/inbound', { rateLimit: { perSecond: 1, brust: 2 } }, 10),
      rule('services/catalog/policies', { timeoutMs: 300 }, 11),
      rule('services/catalog/inbound', {}, 12),
    ]);
    const uses = { calls: ['catalog'], resources: [] };
    const relevant = (key: string) => keyAffects(key.slice('meshless/'.length), 'gateway', uses);
    const { status: checkStatus, output } = formatGovernanceReport(status, {
      relevant,
      uses,
      held: 'meshless/ is empty, marker included',
    });
    expect(checkStatus).toBe('passing');
    const lines = output.split('\n');
    expect(lines[0]).toBe('RULES HELD: meshless/ is empty, marker included');
    expect(lines[1]).toBe('meshless governance: 1 rule in force');
    const report = parseGovernanceReport(output)!;
    expect(Object.keys(report.keys)).toEqual(['meshless/services/catalog/policies']);
    expect(report.uses).toEqual(uses);
    expect(report.held).toBe('meshless/ is empty, marker included');
    expect(formatGovernanceReport(status, { held: 'x', rejectionStatus: 'warning' }).status).toBe('warning');
  });

  it('keyAffects: the defaults, its own inbound, what it calls, the resources it governs', () => {
    const uses = { calls: ['catalog'], resources: ['db.query'] };
    expect(keyAffects('defaults/policies', 'orders', uses)).toBe(true);
    expect(keyAffects('services/orders/inbound', 'orders', uses)).toBe(true);
    expect(keyAffects('services/orders/routes', 'orders', uses)).toBe(false);
    expect(keyAffects('services/catalog/routes', 'orders', uses)).toBe(true);
    expect(keyAffects('services/catalog/inbound', 'orders', uses)).toBe(false);
    expect(keyAffects('resources/db.query', 'orders', uses)).toBe(true);
    expect(keyAffects('resources/other', 'orders', uses)).toBe(false);
    expect(keyAffects('services/catalog/polices/x', 'orders', uses)).toBe(false);
  });
});

describe('parseGovernanceReport', () => {
  it('is tolerant: garbage, other versions and malformed entries do not throw', () => {
    expect(parseGovernanceReport('')).toBeUndefined();
    expect(parseGovernanceReport('TTL expired')).toBeUndefined();
    expect(parseGovernanceReport('meshless-status: {not json')).toBeUndefined();
    expect(parseGovernanceReport('meshless-status: {"v":2,"index":1,"keys":{}}')).toBeUndefined();
    expect(parseGovernanceReport('meshless-status: {"v":1,"index":-1,"keys":{}}')).toBeUndefined();
    expect(parseGovernanceReport(undefined as unknown as string)).toBeUndefined();
    const report = parseGovernanceReport(
      'meshless-status: {"v":1,"index":4,"keys":{"a":{"applied":"x"},"b":{"applied":3,"rejected":null},' +
        '"__proto__":{"applied":1},"c":{"applied":null,"rejected":{"index":4}}}}',
    );
    expect(report).toEqual({
      v: 1,
      index: 4,
      keys: {
        b: { applied: 3, rejected: null },
        c: { applied: null, rejected: { index: 4, path: '', message: '' } },
      },
    });
  });

  it('finds the status line among other lines, even with a trailer appended after it', () => {
    const { output } = formatGovernanceReport(statusOf([rule('defaults/policies', {}, 8)]));
    expect(parseGovernanceReport(`${output}\n... (captured 4096 of 5000 bytes)`)?.keys).toEqual({
      'meshless/defaults/policies': { applied: 8, rejected: null },
    });
  });

  it('names the check after the service id', () => {
    expect(governanceCheckId('catalog-1')).toBe('meshless-governance:catalog-1');
  });
});
