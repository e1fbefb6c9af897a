import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ALGORITHMS, balancerAlgorithm, registerBalancerAlgorithm } from './algorithm-registry.ts';
import { balancerRuleSchema } from './balancer-rule.ts';
import { createBalancer } from './create-balancer.ts';

describe('balancer algorithm registry', () => {
  it('the rule schema admits exactly the registered built-ins', () => {
    for (const algorithm of BUILT_IN_ALGORITHMS) {
      const hashOn = balancerAlgorithm(algorithm)!.hashed ? { header: 'x-user' } : undefined;
      expect(balancerRuleSchema.safeParse({ algorithm, hashOn }).success).toBe(true);
    }
    expect(balancerRuleSchema.safeParse({ algorithm: 'fastest' }).success).toBe(false);
    expect(BUILT_IN_ALGORITHMS).toEqual([
      'round-robin',
      'weighted-round-robin',
      'random',
      'least-request',
      'p2c-peak-ewma',
      'ring-hash',
      'maglev',
    ]);
  });

  it('createBalancer builds each registered algorithm by name', () => {
    for (const algorithm of BUILT_IN_ALGORITHMS) {
      const hashOn = balancerAlgorithm(algorithm)!.hashed ? { header: 'x-user' } : undefined;
      const stack = createBalancer({ algorithm, hashOn, locality: { enabled: false } });
      stack.update([endpoint('a')]);
      expect(stack.picker.pick({ hashKey: 'k' })?.id).toBe('a');
      stack.dispose();
    }
  });

  it('finds nothing for a name off the registry, Object.prototype names included', () => {
    expect(balancerAlgorithm('__proto__')).toBeUndefined();
    expect(balancerAlgorithm('constructor')).toBeUndefined();
    expect(balancerAlgorithm('fastest')).toBeUndefined();
  });

  it('refuses to register a name twice', () => {
    expect(() => registerBalancerAlgorithm('round-robin', balancerAlgorithm('random')!)).toThrow(
      /already registered/,
    );
  });
});
