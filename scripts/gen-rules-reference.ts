// Writes docs/rules-reference.md and packages/meshless/schemas/<kind>.schema.json from the
// JSON Schemas of the rule sections, so the field reference and the files editors use never
// drift from what instances accept (a unit test compares the files). Run: npm run docs:rules
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinSections, ruleJsonSchema, schemaFileName } from 'meshless';

type Schema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  additionalProperties?: Schema | boolean;
  description?: string;
};

function typeOf(s: Schema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  return String(s.type ?? 'any');
}

function bounds(s: Schema): string {
  const out: string[] = [];
  if (s.minimum !== undefined) out.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && Number(s.maximum) < 1e15) out.push(`<= ${s.maximum}`);
  if (s.pattern) out.push(`pattern \`${s.pattern}\``);
  return out.join(', ');
}

function rows(s: Schema, path: string, required: Set<string>, out: string[], oneOf = false): void {
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    if (name === '$schema') continue;
    const p = path ? `${path}.${name}` : name;
    const desc = (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    const req = required.has(name) ? (oneOf ? 'one of' : 'yes') : '';
    out.push(
      `| \`${p}\` | ${typeOf(child).replace(/\|/g, '\\|')} | ${req} | ${bounds(child).replace(/\|/g, '\\|')} | ${desc} |`,
    );
    // A union of objects (hashOn: { header } | { cookie } | { queryParam }): the fields of each.
    const variants = child.anyOf?.filter((a) => a.type === 'object' && a.properties) ?? [];
    for (const v of variants) rows(v, p, new Set((v.required as string[]) ?? []), out, variants.length > 1);
    const inner = child.anyOf?.find((a) => a.type === 'object') ?? child;
    if (inner === child && inner.type === 'object' && inner.properties)
      rows(inner, p, new Set((inner.required as string[]) ?? []), out);
    if (inner.type === 'object' && typeof inner.additionalProperties === 'object') {
      rows(
        inner.additionalProperties,
        `${p}.<name>`,
        new Set((inner.additionalProperties.required as string[]) ?? []),
        out,
      );
    }
    if (inner.type === 'array' && inner.items?.type === 'object')
      rows(inner.items, `${p}[]`, new Set((inner.items.required as string[]) ?? []), out);
  }
}

let md = `# Rule reference (generated)\n\nGenerated from the schemas by \`npm run docs:rules\`; do not edit by hand. The guide with\ndefaults explained and examples is [operators-guide.md](operators-guide.md). Every document may also carry\na \`$schema\` field, which is ignored. The full JSON Schemas ship in the package as\n\`node_modules/meshless/schemas/<kind>.schema.json\` (for completion and validation in editors: see\n[operators-guide.md](operators-guide.md#completion-and-validation-in-your-editor)); \`meshless schema <kind>\` prints them.\n`;
const schemasDir = new URL('../packages/meshless/schemas/', import.meta.url);
mkdirSync(schemasDir, { recursive: true });
for (const file of readdirSync(schemasDir)) rmSync(new URL(file, schemasDir));
const written: string[] = [];
for (const section of builtinSections) {
  const schema = ruleJsonSchema(section) as Schema;
  const file = new URL(schemaFileName(section.kind), schemasDir);
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  written.push(fileURLToPath(file));
  md += `\n## \`${section.kind}\` — \`meshless/${section.pattern.replace('*', '<name>')}\`\n\n${section.description}\n\n`;
  md += '| field | type | required | bounds | meaning |\n|---|---|---|---|---|\n';
  const out: string[] = [];
  rows(schema, '', new Set((schema.required as string[]) ?? []), out);
  md += `${out.join('\n')}\n`;
}
writeFileSync(new URL('../docs/rules-reference.md', import.meta.url), md);
// The repository's formatter has the last word on the JSON layout, so `npm run lint` stays clean.
execFileSync(
  fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url)),
  ['format', '--write', ...written],
  {
    stdio: 'ignore',
  },
);
console.log(`wrote docs/rules-reference.md and ${written.length} files in packages/meshless/schemas/`);
