import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import type { z } from 'zod';
import { RuleError } from './errors.ts';
import { MAX_JSON_NODES, MAX_RULE_ALIASES, MAX_RULE_DEPTH, prescanRuleDocument } from './rule-prescan.ts';
import type { RuleSection } from './rule-section.ts';
import { formatPath, parseOrThrow } from './schema-error.ts';

/** Consul refuses values over 512 KiB; we refuse them too, before parsing. */
export const MAX_DOCUMENT_BYTES = 512 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes and parses a JSON or YAML document. Throws RuleError with a readable reason. */
export function parseRuleDocument(raw: Uint8Array | string, key?: string): unknown {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    if (raw.byteLength > MAX_DOCUMENT_BYTES) {
      throw new RuleError(`document is ${raw.byteLength} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`, {
        key,
      });
    }
    try {
      text = utf8.decode(raw);
    } catch {
      throw new RuleError('document is not UTF-8 text (binary value?)', { key });
    }
  }
  if (text.length > MAX_DOCUMENT_BYTES) {
    throw new RuleError(`document is over the ${MAX_DOCUMENT_BYTES}-byte limit`, { key });
  }
  if (text.includes('\u0000'))
    throw new RuleError('document contains NUL characters (binary value?)', { key });
  const trimmed = text.trim();
  if (trimmed === '') throw new RuleError('document is empty (delete the key to use the defaults)', { key });

  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    // Line numbers count from the document's first line, blank lines included.
    prescanRuleDocument(text, 'json', key);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new RuleError(`invalid JSON: ${(error as Error).message}`, { key, cause: error });
    }
  }
  prescanRuleDocument(text, 'yaml', key);
  return parseYamlDocument(text, key);
}

/**
 * YAML through js-yaml, the one file that imports it. Core types only (YAML 1.2's core schema,
 * whatever a `%YAML 1.1` directive says: no `<<` merges, no !!set, no timestamps); an unknown tag,
 * a duplicate key, a collection as a key and a second document are errors with their line (js-yaml 5
 * has no warnings: what it cannot read as written, it refuses). js-yaml
 * keeps `__proto__` as an own key, which the shape check then refuses with its path. It parses
 * about ten times faster than the `yaml` package, which matters because every instance parses
 * every changed document and the pre-scan's limits bound a document's size, not its parse time.
 */
function parseYamlDocument(text: string, key: string | undefined): unknown {
  try {
    // The pre-scan bounds these already; the parser's own limits are a second fence.
    return loadYaml(text, { schema: CORE_SCHEMA, maxDepth: MAX_RULE_DEPTH, maxAliases: MAX_RULE_ALIASES });
  } catch (error) {
    throw new RuleError(`invalid YAML: ${yamlProblem(error)}`, { key, cause: error });
  }
}

/** `line 2, column 7: unknown scalar tag !<!evil>` */
function yamlProblem(error: unknown): string {
  const e = error as { reason?: string; mark?: { line?: number; column?: number }; message?: string };
  const reason = e.reason ?? firstLine(error);
  const mark = e.mark;
  return typeof mark?.line === 'number' && typeof mark.column === 'number'
    ? `line ${mark.line + 1}, column ${mark.column + 1}: ${reason}`
    : reason;
}

function firstLine(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!;
}

export { formatPath } from './schema-error.ts';

/** Validates a parsed document against its section. Returns the typed value or throws RuleError. */
export function validateRuleDocument<T>(section: RuleSection<T>, doc: unknown, key?: string): T {
  checkShape(doc, key);
  let input = doc;
  if (
    input !== null &&
    typeof input === 'object' &&
    !Array.isArray(input) &&
    Object.hasOwn(input, '$schema')
  ) {
    const { $schema: _ignored, ...rest } = input as Record<string, unknown>;
    input = rest;
  }
  return parseOrThrow(section.schema as z.ZodType<T>, input, { rule: true, key, countMore: true });
}

/**
 * Before the schema: no `__proto__` key anywhere (zod's records would drop it silently, turning
 * `meta: { __proto__: ... }` into "no condition"), and depth and size bounded on the value itself,
 * since aliases can make it deeper and larger than its text.
 */
function checkShape(doc: unknown, key: string | undefined): void {
  const path: PropertyKey[] = [];
  let nodes = 0;
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    if (path.length >= MAX_RULE_DEPTH) {
      throw new RuleError(`${formatPath(path)}: nesting deeper than ${MAX_RULE_DEPTH} levels`, {
        key,
        path: formatPath(path),
      });
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        countNode();
        path.push(i);
        visit(value[i]);
        path.pop();
      }
      return;
    }
    for (const name of Object.keys(value)) {
      countNode();
      path.push(name);
      if (name === '__proto__') {
        const at = formatPath(path);
        throw new RuleError(`${at}: key "__proto__" is not allowed`, { key, path: at });
      }
      visit((value as Record<string, unknown>)[name]);
      path.pop();
    }
  };
  const countNode = () => {
    if (++nodes > MAX_JSON_NODES) {
      throw new RuleError(
        `document has more than ${MAX_JSON_NODES} entries (map entries and list items, aliases expanded)`,
        { key },
      );
    }
  };
  visit(doc);
}

/** parse + validate in one step. */
export function parseAndValidate<T>(section: RuleSection<T>, raw: Uint8Array | string, key?: string): T {
  return validateRuleDocument(section, parseRuleDocument(raw, key), key);
}
