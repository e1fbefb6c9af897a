import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { validateRuleDocument } from './rule-parse.ts';
import { defineSection, matchSection, sectionJsonSchema, sectionKey } from './rule-section.ts';

const routes = defineSection({
  kind: 'routes',
  pattern: 'services/*/routes',
  description: 'd',
  schema: z.object({}),
});
const defaults = defineSection({
  kind: 'defaults',
  pattern: 'defaults/policies',
  description: 'd',
  schema: z.object({}),
});

describe('sections', () => {
  it('match keys of the layout and capture the name', () => {
    expect(matchSection([routes, defaults], 'services/catalog/routes')).toEqual({
      section: routes,
      name: 'catalog',
    });
    expect(matchSection([routes, defaults], 'defaults/policies')).toEqual({ section: defaults, name: '' });
    expect(matchSection([routes, defaults], 'services//routes')).toBeUndefined();
    expect(matchSection([routes, defaults], 'services/catalog/routes/extra')).toBeUndefined();
    expect(sectionKey(routes, 'catalog')).toBe('services/catalog/routes');
  });

  it('export JSON Schema', () => {
    const schema = sectionJsonSchema(
      defineSection({
        kind: 'x',
        pattern: 'x',
        description: 'the x',
        schema: z.strictObject({ timeoutMs: z.number().int().optional() }),
      }),
    );
    expect(schema).toMatchObject({
      title: 'meshless x',
      type: 'object',
      properties: { timeoutMs: { type: 'integer' } },
    });
    expect(schema.additionalProperties).toBe(false);
  });

  it('export JSON Schema that accepts the $schema field documents may carry, and an $id', () => {
    const section = defineSection({
      kind: 'x',
      pattern: 'x',
      description: 'the x',
      schema: z.strictObject({ timeoutMs: z.number().int().optional() }),
    });
    const schema = sectionJsonSchema(section, { id: 'https://example.test/x.schema.json' });
    expect(schema).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.test/x.schema.json',
      title: 'meshless x',
      properties: { $schema: { type: 'string', description: expect.stringMatching(/editors/) } },
    });
    // Judged by the JSON Schema itself (converted back to a validator), not by the zod schema.
    const validator = z.fromJSONSchema(schema as z.core.JSONSchema.JSONSchema, { registry: z.registry() });
    const doc = { $schema: './x.schema.json', timeoutMs: 5 };
    expect(validator.safeParse(doc).success).toBe(true);
    expect(validateRuleDocument(section, doc)).toEqual({ timeoutMs: 5 });
    expect(validator.safeParse({ timeoutMS: 5 }).success).toBe(false);
    expect(validator.safeParse({ $schema: 5 }).success).toBe(false);
    expect(sectionJsonSchema(section)).not.toHaveProperty('$id');
  });

  it('refuse patterns with two wildcards', () => {
    expect(() =>
      defineSection({ kind: 'bad', pattern: '*/x/*', description: '', schema: z.object({}) }),
    ).toThrow(/more than one/);
  });
});
