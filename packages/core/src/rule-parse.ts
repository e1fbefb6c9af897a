import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { RuleError } from './errors.ts';
import type { RuleSection } from './rule-section.ts';

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
    try {
      return JSON.parse(trimmed);
    } catch (error) {
      throw new RuleError(`invalid JSON: ${(error as Error).message}`, { key, cause: error });
    }
  }
  try {
    // Aliases are capped so a hostile document cannot expand exponentially.
    return parseYaml(trimmed, { maxAliasCount: 100, prettyErrors: false });
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).split('\n')[0];
    throw new RuleError(`invalid YAML: ${message}`, { key, cause: error });
  }
}

/** `['routes', 1, 'to']` -> `routes[1].to` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Validates a parsed document against its section. Returns the typed value or throws RuleError. */
export function validateRuleDocument<T>(section: RuleSection<T>, doc: unknown, key?: string): T {
  let input = doc;
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && '$schema' in input) {
    const { $schema: _ignored, ...rest } = input as Record<string, unknown>;
    input = rest;
  }
  const result = (section.schema as z.ZodType<T>).safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = formatPath(issue.path);
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
  const message = path ? `${path}: ${issue.message}${more}` : `${issue.message}${more}`;
  throw new RuleError(message, { key, path, cause: result.error });
}

/** parse + validate in one step. */
export function parseAndValidate<T>(section: RuleSection<T>, raw: Uint8Array | string, key?: string): T {
  return validateRuleDocument(section, parseRuleDocument(raw, key), key);
}
