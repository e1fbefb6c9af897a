import { readdirSync, readFileSync } from 'node:fs';
import { validateRuleDocument } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinSections } from './index.ts';
import { ruleJsonSchema, SCHEMA_ID_BASE, schemaFileName } from './json-schema.ts';

const schemasDir = new URL('../../schemas/', import.meta.url);

const policies = {
  timeoutMs: 1000,
  retry: {
    attempts: 3,
    backoff: { baseMs: 25, maxMs: 1000 },
    on: ['connect-error', 'reset', '502', '503', '504'],
    perTryTimeoutMs: 300,
    budget: { percent: 20, minPerSecond: 10 },
  },
  hedge: { delayMs: 'p95', maxAttempts: 2 },
  breaker: {
    errorPercent: 50,
    volume: 20,
    windowMs: 10000,
    openMs: 5000,
    halfOpenProbes: 3,
    slowCallMs: 1000,
  },
  bulkhead: { maxConcurrent: 100, maxQueue: 50 },
  rateLimit: { perSecond: 200, burst: 400 },
  methods: { getItem: { timeoutMs: 200 } },
};

/** The documented example of each kind (operators-guide.md). */
const examples: Record<string, Record<string, unknown>> = {
  routes: {
    subsets: { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } },
    routes: [
      {
        name: 'beta-users',
        match: { headers: { 'x-user-group': { exact: 'beta' } }, path: { prefix: '/items' } },
        to: [{ subset: 'canary', weight: 100 }],
      },
      {
        name: 'default',
        stickyBy: { header: 'x-user-id' },
        to: [
          { subset: 'stable', weight: 90 },
          { subset: 'canary', weight: 10 },
        ],
        mirror: { subset: 'canary', percent: 5 },
        fault: { delay: { percent: 1, ms: 200 }, abort: { percent: 0.5, status: 503 } },
      },
    ],
  },
  balancer: {
    algorithm: 'ring-hash',
    hashOn: { header: 'x-user-id' },
    locality: { enabled: true, minHealthyPercent: 70 },
    panicThresholdPercent: 50,
    outlier: { consecutiveErrors: 5, intervalMs: 10000, baseEjectionMs: 30000, maxEjectionPercent: 10 },
    slowStartMs: 30000,
  },
  policies,
  resource: policies,
  defaults: policies,
  inbound: {
    rateLimit: { perSecond: 500, burst: 500, perCaller: true },
    concurrency: { max: 200 },
    fault: { delay: { percent: 5, ms: 200 }, abort: { percent: 1, status: 503 } },
  },
};

type JsonSchema = {
  description?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $defs?: Record<string, JsonSchema>;
};

/** Paths of the properties, at every depth, that carry no description (what an editor would show). */
function undescribed(schema: JsonSchema, path: string, out: string[]): string[] {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const at = path ? `${path}.${name}` : name;
    if (typeof child.description !== 'string' || child.description.trim() === '') out.push(at);
    undescribed(child, at, out);
  }
  for (const variant of schema.anyOf ?? []) undescribed(variant, path, out);
  if (typeof schema.additionalProperties === 'object') {
    undescribed(schema.additionalProperties, `${path}.<name>`, out);
  }
  if (schema.items) undescribed(schema.items, `${path}[]`, out);
  for (const [name, def] of Object.entries(schema.$defs ?? {})) undescribed(def, `$defs.${name}`, out);
  return out;
}

/** A validator built from the JSON Schema alone: what an editor would accept. */
function editorValidator(schema: Record<string, unknown>): z.ZodType {
  return z.fromJSONSchema(schema as z.core.JSONSchema.JSONSchema, { registry: z.registry() });
}

describe('the JSON Schemas of the rule documents', () => {
  it('cover every built-in kind, with a stable $id and a title', () => {
    expect(builtinSections.map((s) => s.kind)).toEqual([
      'routes',
      'balancer',
      'policies',
      'inbound',
      'resource',
      'defaults',
    ]);
    for (const section of builtinSections) {
      expect(ruleJsonSchema(section)).toMatchObject({
        $schema: 'http://json-schema.org/draft-07/schema#',
        $id: `${SCHEMA_ID_BASE}${section.kind}.schema.json`,
        title: `meshless ${section.kind}`,
        description: section.description,
      });
    }
  });

  for (const section of builtinSections) {
    it(`${section.kind}: accepts the documented example with a $schema field, as instances do`, () => {
      const doc = {
        $schema: `./node_modules/meshless/schemas/${schemaFileName(section.kind)}`,
        ...examples[section.kind],
      };
      const editor = editorValidator(ruleJsonSchema(section));
      expect(editor.safeParse(doc).error?.issues).toBeUndefined();
      expect(() => validateRuleDocument(section, doc)).not.toThrow();
      // Still strict: a typo is flagged in the editor as it is rejected by instances.
      expect(editor.safeParse({ ...doc, timeoutMS: 5 }).success).toBe(false);
      expect(editor.safeParse({ ...doc, $schema: 5 }).success).toBe(false);
    });

    it(`${section.kind}: describes every field at every depth`, () => {
      const schema = ruleJsonSchema(section) as JsonSchema;
      expect(undescribed(schema, '', [])).toEqual([]);
    });
  }

  it('are shipped as files that match the schemas (run `npm run docs:rules` after a schema change)', () => {
    const files = readdirSync(schemasDir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(builtinSections.map((s) => schemaFileName(s.kind)).sort());
    for (const section of builtinSections) {
      const shipped = JSON.parse(readFileSync(new URL(schemaFileName(section.kind), schemasDir), 'utf8'));
      expect(shipped, schemaFileName(section.kind)).toEqual(
        JSON.parse(JSON.stringify(ruleJsonSchema(section))),
      );
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.files).toContain('schemas');
  });
});
