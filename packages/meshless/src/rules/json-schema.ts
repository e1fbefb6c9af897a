import { type RuleSection, sectionJsonSchema } from '@meshless/core';

/**
 * Where the JSON Schemas of the built-in kinds live, also shipped in the package as
 * `meshless/schemas/<kind>.schema.json`. The `$id`s name the files in the repository, so they
 * stay the same from one release to the next and resolve for a tool that fetches them.
 */
export const SCHEMA_ID_BASE =
  'https://raw.githubusercontent.com/meshless/meshless/main/packages/meshless/schemas/';

/** The shipped file name of a kind's JSON Schema: `routes.schema.json`. */
export function schemaFileName(kind: string): string {
  return `${kind}.schema.json`;
}

/**
 * The JSON Schema of a rule section, with a stable `$id` and `title`: what `meshless schema
 * <kind>` prints and `schemas/<kind>.schema.json` holds.
 */
export function ruleJsonSchema(section: RuleSection): Record<string, unknown> {
  return sectionJsonSchema(section, { id: `${SCHEMA_ID_BASE}${schemaFileName(section.kind)}` });
}
