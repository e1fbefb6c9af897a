import type { z } from 'zod';
import { ConfigError, RuleError } from './errors.ts';
import { unknownFieldMessage } from './schema-suggest.ts';

/** `['routes', 1, 'to']` -> `routes[1].to` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** How a failed parse is worded. */
export interface SchemaErrorOptions {
  /** Text that opens the message as is: `'breaker '` -> `breaker errorPercent: must be ...`. */
  readonly prefix?: string | undefined;
  /**
   * Whether the message starts with the field path (`outlier.maxEjectionMs: ...`; default true).
   * Off where the schema's own messages name their field (a flat options object).
   */
  readonly withPath?: boolean | undefined;
  /** Segments before the issue's own path (`['retry']` -> `retry.backoff.maxMs`). */
  readonly pathPrefix?: readonly PropertyKey[] | undefined;
  /** Joins the path with dots only (`retry.on.0`), as the code-option errors always did. Default: `retry.on[0]`. */
  readonly dottedPath?: boolean | undefined;
  /** The error's `path` when it is not the issue's (a single value checked on its own). */
  readonly path?: string | undefined;
  /** Says `(and N more)` when the input has several problems. Default false. */
  readonly countMore?: boolean | undefined;
  /** A rule document's problem: a RuleError carrying its KV `key`, not a ConfigError. */
  readonly rule?: boolean | undefined;
  readonly key?: string | undefined;
}

/**
 * The first issue of a zod error as a ConfigError (or RuleError) with its field path: an
 * unknown field is named with the nearest known one (`did you mean "burst"?`), and a message
 * that already starts with its field name says it once. The one translation from a schema
 * failure to a meshless error, so every option and document reads alike.
 */
export function schemaError(
  error: z.ZodError,
  schema: z.ZodType,
  options: SchemaErrorOptions = {},
): ConfigError | RuleError {
  const issue = error.issues[0]!;
  const segments = options.pathPrefix ? [...options.pathPrefix, ...issue.path] : issue.path;
  const path = options.path ?? (options.dottedPath ? segments.map(String).join('.') : formatPath(segments));
  let what: string;
  if (issue.code === 'unrecognized_keys') what = unknownFieldMessage(schema, issue.path, issue.keys);
  else {
    what = issue.message;
    const last = segments.length > 0 ? `${String(segments[segments.length - 1])}: ` : '';
    // Field schemas start their messages with the field name; with the path in front, say it once.
    if (options.withPath !== false && last && what.startsWith(last)) what = what.slice(last.length);
  }
  const more = options.countMore && error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  const located = options.withPath !== false && path ? `${path}: ${what}` : what;
  const message = `${options.prefix ?? ''}${located}${more}`;
  return options.rule
    ? new RuleError(message, { key: options.key, path, cause: error })
    : new ConfigError(message, { path, cause: error });
}

/** Parses `value` with `schema`, or throws `schemaError()` of the failure. Off the call path only. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  options?: SchemaErrorOptions,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw schemaError(result.error, schema, options);
}
