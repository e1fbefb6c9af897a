import { describe, expect, it } from 'vitest';
import { RuleError } from './errors.ts';
import {
  MAX_JSON_NODES,
  MAX_RULE_ALIASES,
  MAX_RULE_DEPTH,
  MAX_RULE_NODES,
  prescanRuleDocument,
} from './rule-prescan.ts';

const yaml = (text: string) => prescanRuleDocument(text, 'yaml', 'meshless/services/catalog/routes');
const json = (text: string) => prescanRuleDocument(text, 'json', 'meshless/services/catalog/routes');

function rejection(run: () => void): RuleError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RuleError);
    expect((error as RuleError).key).toBe('meshless/services/catalog/routes');
    return error as RuleError;
  }
  throw new Error('expected a RuleError');
}

/** A block map nested `levels` deep, two spaces per level. */
function blockMaps(levels: number): string {
  let out = '';
  for (let i = 0; i < levels; i++) out += `${'  '.repeat(i)}k${i}:\n`;
  return `${out}${'  '.repeat(levels)}leaf: 1\n`;
}

describe('prescanRuleDocument', () => {
  it('accepts ordinary rule documents', () => {
    expect(() =>
      yaml(
        [
          '# canary',
          'subsets:',
          '  stable: { meta: { version: v1 } }',
          '  canary:',
          '    tags: [canary, "eu-1"]',
          'routes:',
          '  - name: beta',
          '    match:',
          "      headers: { x-user: { regex: '^[a-z]+[0-9]{2}$' } }",
          '      path: { prefix: "/api/[v1]" }',
          '    to:',
          '    - subset: canary',
          '      weight: 100',
          '  - to: [{ subset: stable }]',
          'description: |',
          '  - - - [[[[ text, not structure',
          '    {{{{',
          'other: >-',
          '  [[[[',
        ].join('\n'),
      ),
    ).not.toThrow();
    expect(() =>
      json('{"subsets":{"v1":{"meta":{"version":"v1"}}},"routes":[{"match":{"path":{"regex":"[[[["}}}]}'),
    ).not.toThrow();
    expect(() => yaml(blockMaps(MAX_RULE_DEPTH - 2))).not.toThrow();
  });

  it('rejects flow nesting over the limit, naming the line', () => {
    const deep = `a: 1\nsubsets: ${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(rejection(() => yaml(deep)).message).toBe(`line 2: nesting deeper than ${MAX_RULE_DEPTH} levels`);
    const split = `subsets:\n  - ${'[\n'.repeat(100)}`;
    expect(rejection(() => yaml(split)).message).toMatch(/^line \d+: nesting deeper than 64 levels$/);
  });

  it('rejects block nesting over the limit: indentation, `- - -` on one line, `? ` keys, lists at the key column', () => {
    expect(rejection(() => yaml(blockMaps(MAX_RULE_DEPTH + 1))).message).toMatch(/^line 6\d: nesting deeper/);
    expect(rejection(() => yaml(`${'- '.repeat(250_000)}x`)).message).toBe(
      `line 1: nesting deeper than ${MAX_RULE_DEPTH} levels`,
    );
    expect(rejection(() => yaml(`${'? '.repeat(100)}x`)).message).toMatch(/^line 1: nesting deeper/);
    let sameColumn = '';
    for (let i = 0; i < 40; i++) sameColumn += `${' '.repeat(i)}k:\n${' '.repeat(i)}-\n`;
    expect(rejection(() => yaml(sameColumn)).message).toMatch(/nesting deeper/);
  });

  it('counts brackets outside quoted strings and comments only', () => {
    const many = '['.repeat(100);
    expect(() => yaml(`a: "${many}"\nb: '${many}''${many}'\nc: x # ${many}\nd: it's ${many}`)).not.toThrow();
    // A quote inside a plain scalar opens nothing: the brackets after it are structure.
    expect(rejection(() => yaml(`a: [x'y, ${many}']`)).message).toMatch(/nesting deeper/);
    expect(rejection(() => yaml(`a: {"k":${many}}`)).message).toMatch(/nesting deeper/);
    expect(() => json(`{"a": "${many}\\"${many}"}`)).not.toThrow();
    expect(rejection(() => json(`{"a": "x\\\\", "b": ${many}`)).message).toMatch(/line 1: nesting deeper/);
  });

  it('ends a block scalar at the first line not indented deeper than its collection', () => {
    const hidden = `a:\n  b: |\n    text\n  c: ${'['.repeat(100)}`;
    expect(rejection(() => yaml(hidden)).message).toMatch(/^line 4: nesting deeper/);
    const seq = `- k: |\n    text\n  x: ${'- '.repeat(100)}`;
    expect(rejection(() => yaml(seq)).message).toMatch(/^line 3: nesting deeper/);
  });

  it('refuses a quoted string that does not end on its line (the parser may read the rest as structure)', () => {
    expect(rejection(() => yaml('a: "one\n  two"')).message).toBe(
      'line 1: a quoted string must end on the line it starts (use a block scalar, | or >, for long text)',
    );
  });

  it('rejects documents with too many values or aliases', () => {
    let map = '';
    for (let i = 0; i <= MAX_RULE_NODES; i++) map += `k${i}: ${i}\n`;
    // A line and its map entry count one each.
    expect(rejection(() => yaml(map)).message).toBe(
      `line ${MAX_RULE_NODES / 2 + 1}: more than ${MAX_RULE_NODES} entries (lines, map entries, list items and collections)`,
    );
    const comments = '# [[[[\n'.repeat(MAX_RULE_NODES + 1);
    expect(rejection(() => yaml(comments)).message).toMatch(
      new RegExp(`^line ${MAX_RULE_NODES + 1}: more than ${MAX_RULE_NODES} entries`),
    );
    // Block scalar lines count too (the parser reads them one by one).
    expect(() => yaml(`a: |\n${'  text\n'.repeat(MAX_RULE_NODES - 2)}`)).not.toThrow();
    expect(rejection(() => yaml(`a: |\n${'  text\n'.repeat(MAX_RULE_NODES)}`)).message).toMatch(
      /more than \d+ entries/,
    );
    expect(rejection(() => yaml(`a: [${'1,'.repeat(MAX_RULE_NODES)}1]`)).message).toMatch(
      new RegExp(`more than ${MAX_RULE_NODES} entries`),
    );
    expect(() => json(`[${'1,'.repeat(MAX_RULE_NODES)}1]`)).not.toThrow();
    expect(rejection(() => json(`[${'1,'.repeat(MAX_JSON_NODES)}1]`)).message).toMatch(
      new RegExp(`more than ${MAX_JSON_NODES} entries`),
    );
    const aliases = `a: &a x\nb: [${Array(MAX_RULE_ALIASES + 1)
      .fill('*a')
      .join(', ')}]`;
    expect(rejection(() => yaml(aliases)).message).toBe(`line 2: more than ${MAX_RULE_ALIASES} aliases`);
  });

  it('starts over at each document marker', () => {
    const docs = Array.from({ length: 40 }, () => blockMaps(10)).join('---\n');
    expect(() => yaml(docs)).not.toThrow();
  });
});
