import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { RuleError } from './errors.ts';
import { ownValue, ruleRecord } from './own-keys.ts';
import { parseAndValidate, parseRuleDocument } from './rule-parse.ts';
import { defineSection } from './rule-section.ts';

const KEY = 'meshless/services/catalog/routes';

const routes = defineSection({
  kind: 'routes',
  pattern: 'services/*/routes',
  description: 'test',
  schema: z.strictObject({
    subsets: ruleRecord(
      z.string(),
      z.strictObject({ meta: ruleRecord(z.string(), z.string()).optional() }),
    ).optional(),
  }),
});

function rejection(run: () => unknown): RuleError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RuleError);
    return error as RuleError;
  }
  throw new Error('expected a RuleError');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseRuleDocument: bounded before parsing', () => {
  it.each([
    ['YAML', `subsets: ${'['.repeat(200_000)}${']'.repeat(200_000)}`],
    ['JSON', `{"subsets": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`],
    ['YAML `- - -`', `${'- '.repeat(255_000)}x`],
  ])('rejects a 200 000-deep %s document in milliseconds, naming the line', (_name, text) => {
    const started = performance.now();
    const error = rejection(() => parseRuleDocument(text, KEY));
    const ms = performance.now() - started;
    expect(error.message).toBe('line 1: nesting deeper than 64 levels');
    expect(error.key).toBe(KEY);
    // It took seconds in the parser; the pre-scan stops at the 65th level.
    expect(ms).toBeLessThan(50);
  });

  it('rejects a 500 KB map in milliseconds (yaml checks duplicate keys in quadratic time)', () => {
    let map = '';
    for (let i = 0; map.length < 500_000; i++) map += `key${i}: ${i}\n`;
    const started = performance.now();
    expect(rejection(() => parseRuleDocument(map, KEY)).message).toMatch(/more than 5000 entries/);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('parseRuleDocument: YAML warnings are errors, never process warnings', () => {
  it('refuses an unknown tag with its line and column, and writes nothing to process warnings', () => {
    const emitted = vi.spyOn(process, 'emitWarning');
    const error = rejection(() => parseRuleDocument('subsets:\n  v1: !evil { meta: {} }\n', KEY));
    expect(error.message).toBe('invalid YAML: line 2, column 7: unknown mapping tag !<!evil>');
    expect(emitted).not.toHaveBeenCalled();
  });

  it('refuses YAML 1.1 types and merge keys, whatever the %YAML directive says', () => {
    expect(rejection(() => parseRuleDocument('%YAML 1.1\n---\na: !!set { x }\n')).message).toMatch(
      /line 3, column 4: unknown mapping tag !<tag:yaml.org,2002:set>/,
    );
    const merged = parseRuleDocument('a: &a { x: 1 }\nb:\n  <<: *a\n');
    expect(merged).toEqual({ a: { x: 1 }, b: { '<<': { x: 1 } } });
  });

  it('refuses duplicate keys and collection keys, with the line', () => {
    expect(rejection(() => parseRuleDocument('a: 1\nb:\n  c: 1\n  c: 2\n')).message).toMatch(
      /^invalid YAML: line 4, column \d+: duplicated mapping key/,
    );
    expect(rejection(() => parseRuleDocument('? [a, b]\n: 1\n')).message).toMatch(
      /^invalid YAML: line \d+, column \d+: object-based map does not support complex keys/,
    );
  });

  it('refuses a second document in the same value', () => {
    expect(rejection(() => parseRuleDocument('a: 1\n---\nb: 2\n')).message).toMatch(
      /expected a single document/,
    );
  });

  it('still expands a few aliases', () => {
    expect(parseRuleDocument('base: &b { version: v1 }\nsubsets:\n  v1: { meta: *b }\n')).toEqual({
      base: { version: 'v1' },
      subsets: { v1: { meta: { version: 'v1' } } },
    });
  });
});

describe('validateRuleDocument: `__proto__` keys', () => {
  it.each([
    ['JSON', '{"subsets":{"v1":{"meta":{"__proto__":{"version":"v1"}}}}}'],
    ['YAML', 'subsets:\n  v1:\n    meta:\n      __proto__: { version: v1 }\n'],
    ['YAML (quoted)', 'subsets:\n  v1:\n    meta:\n      "__proto__": x\n'],
  ])('are refused with their field path (%s), not dropped (which made v1 "all endpoints")', (_f, text) => {
    const error = rejection(() => parseAndValidate(routes, text, KEY));
    expect(error.message).toBe('subsets.v1.meta.__proto__: key "__proto__" is not allowed');
    expect(error.path).toBe('subsets.v1.meta.__proto__');
    expect(error.key).toBe(KEY);
  });

  it('bounds depth and size after aliases are expanded too', () => {
    const deep = `${'['.repeat(30)}x${']'.repeat(30)}`;
    const text = `a: &a ${deep}\nb: &b ${deep.replace('x', '*a')}\nc: ${deep.replace('x', '*b')}\n`;
    expect(rejection(() => parseAndValidate(routes, text)).message).toMatch(
      /^c(\[0\])+: nesting deeper than 64 levels$/,
    );
    const wide = `a: &a [${'1, '.repeat(999)}1]\nb: [${Array(20).fill('*a').join(', ')}]\n`;
    expect(rejection(() => parseAndValidate(routes, wide)).message).toMatch(/more than 10000 entries/);
  });

  it('keeps `constructor` and `toString` as ordinary names, in records without a prototype', () => {
    const doc = parseAndValidate(routes, '{"subsets":{"constructor":{"meta":{"toString":"x"}}}}');
    const subsets = doc.subsets!;
    expect(Object.getPrototypeOf(subsets)).toBe(null);
    expect(Object.keys(subsets)).toEqual(['constructor']);
    expect(ownValue(ownValue(subsets, 'constructor')!.meta, 'toString')).toBe('x');
    const plain = parseAndValidate(routes, '{"subsets":{"v1":{}}}').subsets!;
    expect(plain.constructor).toBeUndefined();
    expect(ownValue(plain.v1!.meta, 'constructor')).toBeUndefined();
  });
});
