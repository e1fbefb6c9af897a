import { type RuleError, sectionJsonSchema, validateRuleDocument } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { balancerRuleSchema, balancerSection, resolveBalancerRule } from './balancer-rule.ts';

const validate = (doc: unknown) =>
  validateRuleDocument(balancerSection, doc, 'meshless/services/catalog/balancer');
const errorOf = (doc: unknown): RuleError => {
  try {
    validate(doc);
  } catch (error) {
    return error as RuleError;
  }
  throw new Error('expected a RuleError');
};

describe('balancer rule', () => {
  it('accepts the DESIGN.md example and fills in defaults', () => {
    const rule = validate({
      $schema: 'https://example.com/balancer.json',
      algorithm: 'p2c-peak-ewma',
      hashOn: { header: 'x-user-id' },
      locality: { enabled: true, minHealthyPercent: 70 },
      panicThresholdPercent: 50,
      outlier: { consecutiveErrors: 5, intervalMs: 10000, baseEjectionMs: 30000, maxEjectionPercent: 10 },
      slowStartMs: 30000,
    });
    expect(resolveBalancerRule(rule)).toEqual({
      algorithm: 'p2c-peak-ewma',
      hashOn: { header: 'x-user-id' },
      ringHash: { minRingSize: 1024, maxRingSize: 8_388_608 },
      maglev: { tableSize: 65_537 },
      locality: { enabled: true, minHealthyPercent: 70 },
      panicThresholdPercent: 50,
      outlier: {
        consecutiveErrors: 5,
        consecutiveConnectErrors: 3,
        intervalMs: 10000,
        baseEjectionMs: 30000,
        maxEjectionMs: 300_000,
        maxEjectionPercent: 10,
        successRate: undefined,
      },
      slowStartMs: 30000,
    });
  });

  it('means p2c-peak-ewma with locality and ejection on connect errors only when empty', () => {
    expect(resolveBalancerRule(validate({}))).toMatchObject({
      algorithm: 'p2c-peak-ewma',
      outlier: {
        consecutiveErrors: 0,
        consecutiveConnectErrors: 3,
        baseEjectionMs: 30_000,
        maxEjectionPercent: 10,
        successRate: undefined,
      },
      slowStartMs: 0,
      panicThresholdPercent: 50,
      locality: { enabled: true, minHealthyPercent: 70 },
    });
    expect(resolveBalancerRule(validate({ outlier: false })).outlier).toBeUndefined();
    expect(resolveBalancerRule(validate({ outlier: {} })).outlier).toMatchObject({
      consecutiveErrors: 5,
      consecutiveConnectErrors: 3,
    });
    expect(resolveBalancerRule(validate({ outlier: { successRate: {} } })).outlier?.successRate).toEqual({
      minRequests: 100,
      stdevFactor: 1.9,
      minEndpoints: 5,
    });
  });

  it('requires hashOn for ring-hash and maglev, naming the field', () => {
    const e = errorOf({ algorithm: 'maglev' });
    expect(e.code).toBe('MESHLESS_RULE_INVALID');
    expect(e.path).toBe('hashOn');
    expect(e.message).toBe('hashOn: required when algorithm is maglev, e.g. { "header": "x-user-id" }');
    expect(validate({ algorithm: 'ring-hash', hashOn: { cookie: 'sid' } }).hashOn).toEqual({ cookie: 'sid' });
  });

  it('reports readable errors with field paths', () => {
    expect(errorOf({ algorithm: 'fastest' }).path).toBe('algorithm');
    expect(errorOf({ hashOn: { header: 'a', cookie: 'b' } }).message).toBe(
      'hashOn: expected exactly one of { "header": name }, { "cookie": name }, { "queryParam": name }',
    );
    expect(errorOf({ maglev: { tableSize: 65_536 } }).message).toBe(
      'maglev.tableSize: 65536 is not prime (the next prime is 65537)',
    );
    expect(errorOf({ panicThresholdPercent: 120 }).path).toBe('panicThresholdPercent');
    expect(errorOf({ outlier: { baseEjectionMs: 60_000, maxEjectionMs: 1000 } }).message).toBe(
      'outlier.maxEjectionMs: 1000 is below baseEjectionMs 60000',
    );
    expect(errorOf({ ringHash: { minRingSize: 5000, maxRingSize: 4000 } }).path).toBe('ringHash.minRingSize');
    expect(errorOf({ outlier: { consecutiveErrors: 5, typo: 1 } }).message).toMatch(/typo/);
    expect(errorOf({ slowStartMs: 1.5 }).path).toBe('slowStartMs');
  });

  it('is a `balancer` section at services/*/balancer with a JSON Schema', () => {
    expect(balancerSection).toMatchObject({ kind: 'balancer', pattern: 'services/*/balancer' });
    expect(balancerSection.schema).toBe(balancerRuleSchema);
    const json = sectionJsonSchema(balancerSection);
    expect(json).toMatchObject({ title: 'meshless balancer', type: 'object', additionalProperties: false });
    expect(Object.keys(json.properties as object)).toEqual([
      '$schema',
      'algorithm',
      'hashOn',
      'ringHash',
      'maglev',
      'locality',
      'panicThresholdPercent',
      'outlier',
      'slowStartMs',
    ]);
  });
});
