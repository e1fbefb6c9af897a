import { z } from 'zod';

/**
 * One kind of document in the KV layout: where it lives (a pattern relative to the prefix,
 * `*` standing for one path segment, the document's name) and what it must look like.
 */
export interface RuleSection<T = unknown> {
  /** Short name used by tools and status: `routes`, `balancer`, `policies`, ... */
  readonly kind: string;
  /** Relative key pattern, e.g. `services/*\/routes`; at most one `*`. */
  readonly pattern: string;
  readonly schema: z.ZodType<T>;
  readonly description: string;
}

export function defineSection<T>(section: RuleSection<T>): RuleSection<T> {
  const stars = section.pattern.split('/').filter((s) => s === '*').length;
  if (stars > 1)
    throw new TypeError(`section ${section.kind}: pattern ${section.pattern} has more than one *`);
  return Object.freeze({ ...section });
}

export interface SectionMatch {
  readonly section: RuleSection;
  /** What `*` stood for (the service or resource name); '' for patterns without `*`. */
  readonly name: string;
}

/** Finds the section a relative key belongs to, or undefined for a key outside the layout. */
export function matchSection(
  sections: readonly RuleSection[],
  relativeKey: string,
): SectionMatch | undefined {
  const parts = relativeKey.split('/');
  for (const section of sections) {
    const pattern = section.pattern.split('/');
    if (pattern.length !== parts.length) continue;
    let name = '';
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i]!;
      const k = parts[i]!;
      if (p === '*') {
        if (k === '') ok = false;
        name = k;
      } else if (p !== k) ok = false;
      if (!ok) break;
    }
    if (ok) return { section, name };
  }
  return undefined;
}

/** The relative key of a section's document for `name` (the inverse of matchSection). */
export function sectionKey(section: RuleSection, name = ''): string {
  return section.pattern.replace('*', name);
}

export interface SectionJsonSchemaOptions {
  /** `$id` of the schema: a stable URI editors and other schemas can refer to it by. */
  readonly id?: string;
}

/** What a document's own `$schema` field is for (every document may carry one). */
const SCHEMA_FIELD = {
  type: 'string',
  description:
    'URI or path of the JSON Schema of this document, for editors (completion, validation); ignored by meshless',
} as const;

/**
 * The section's schema as JSON Schema, for editors and `meshless validate`. Draft-07: the
 * dialect every editor validates in full (VS Code's JSON and YAML support, JetBrains), and all
 * these schemas need. A top-level `$schema` string is allowed, as the rule parser allows (and
 * drops) it, so an editor pointed at this schema does not flag the field that points it there.
 */
export function sectionJsonSchema(
  section: RuleSection,
  options: SectionJsonSchemaOptions = {},
): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(section.schema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  if (schema.type === 'object' && typeof schema.properties === 'object') {
    const { $schema: own, ...fields } = schema.properties as Record<string, object>;
    schema.properties = { $schema: { ...SCHEMA_FIELD, ...own }, ...fields };
  }
  return {
    $schema,
    ...(options.id === undefined ? {} : { $id: options.id }),
    title: `meshless ${section.kind}`,
    description: section.description,
    ...schema,
  };
}
