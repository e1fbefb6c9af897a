import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { nearest, suggestField, unknownFieldMessage } from './schema-suggest.ts';

const schema = z.strictObject({
  timeoutMs: z.number().optional(),
  rateLimit: z.strictObject({ perSecond: z.number(), burst: z.number().optional() }).optional(),
  methods: z.record(z.string(), z.strictObject({ timeoutMs: z.number().optional() })).optional(),
  routes: z.array(z.strictObject({ name: z.string().optional(), to: z.array(z.number()) })).optional(),
});

describe('suggestField', () => {
  it('suggests the nearest known field at the path', () => {
    expect(suggestField(schema, ['rateLimit'], 'brust')).toBe('burst');
    expect(suggestField(schema, [], 'timeoutMS')).toBe('timeoutMs');
    expect(suggestField(schema, ['methods', 'getItem'], 'timeotMs')).toBe('timeoutMs');
    expect(suggestField(schema, ['routes', 0], 'nmae')).toBe('name');
  });

  it('suggests nothing far away, nothing for a path it cannot follow, and stays cheap on long names', () => {
    expect(suggestField(schema, ['rateLimit'], 'colour')).toBeUndefined();
    expect(suggestField(schema, ['nowhere'], 'burst')).toBeUndefined();
    expect(suggestField(schema, [], 'x'.repeat(10_000))).toBeUndefined();
    // A name of a few letters is not "near" everything of the same length.
    expect(suggestField(schema, [], 'to')).toBeUndefined();
  });

  it('words an unknown-field issue for operators', () => {
    expect(unknownFieldMessage(schema, ['rateLimit'], ['brust', 'zzz'])).toBe(
      'unknown field "brust" (did you mean "burst"?); unknown field "zzz"',
    );
  });
});

describe('nearest', () => {
  it('finds a close candidate and nothing for a far one', () => {
    expect(
      nearest('services/catalog/polices', ['services/catalog/policies', 'services/catalog/routes']),
    ).toBe('services/catalog/policies');
    expect(nearest('colour', ['burst', 'perSecond'])).toBeUndefined();
  });
});

describe('unknownFieldMessage on many fields', () => {
  it('names three and counts the rest', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    expect(unknownFieldMessage(schema, [], keys)).toBe(
      'unknown field "k0"; unknown field "k1"; unknown field "k2" (and 4997 more unknown fields)',
    );
  });
});
