// Writes docs/rules-reference.md from the JSON Schemas of the rule sections, so the field
// reference never drifts from what instances accept. Run: npm run docs:rules
import { writeFileSync } from 'node:fs';
import { sectionJsonSchema } from '@meshless/core';
import { builtinSections } from 'meshless';

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

function rows(s: Schema, path: string, required: Set<string>, out: string[]): void {
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    if (name === '$schema') continue;
    const p = path ? `${path}.${name}` : name;
    const desc = (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    out.push(
      `| \`${p}\` | ${typeOf(child).replace(/\|/g, '\\|')} | ${required.has(name) ? 'yes' : ''} | ${bounds(child).replace(/\|/g, '\\|')} | ${desc} |`,
    );
    const inner = child.anyOf?.find((a) => a.type === 'object') ?? child;
    if (inner.type === 'object' && inner.properties)
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

let md = `# Rule reference (generated)\n\nGenerated from the schemas by \`npm run docs:rules\`; do not edit by hand. The guide with\ndefaults explained and examples is [operators-guide.md](operators-guide.md). Every document may also carry\na \`$schema\` field, which is ignored. \`meshless schema <kind>\` prints the full JSON Schema.\n`;
for (const section of builtinSections) {
  const schema = sectionJsonSchema(section) as Schema;
  md += `\n## \`${section.kind}\` — \`meshless/${section.pattern.replace('*', '<name>')}\`\n\n${section.description}\n\n`;
  md += '| field | type | required | bounds | meaning |\n|---|---|---|---|---|\n';
  const out: string[] = [];
  rows(schema, '', new Set((schema.required as string[]) ?? []), out);
  md += `${out.join('\n')}\n`;
}
writeFileSync(new URL('../docs/rules-reference.md', import.meta.url), md);
console.log('wrote docs/rules-reference.md');
