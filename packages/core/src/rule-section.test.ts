import { describe, expect, it } from 'vitest';
import { z } from 'zod';
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

  it('refuse patterns with two wildcards', () => {
    expect(() =>
      defineSection({ kind: 'bad', pattern: '*/x/*', description: '', schema: z.object({}) }),
    ).toThrow(/more than one/);
  });
});
