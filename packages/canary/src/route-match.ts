import { isCatchAll, type RouteMatch } from './routes-schema.ts';
import { compileStringMatch, matchString, type StringMatcher } from './string-match.ts';

/**
 * The request as routing sees it. Small on purpose, so undici and node:http requests can be
 * adapted without copying their headers.
 */
export interface RouteRequest {
  /** HTTP method; compared case-insensitively (upper-case input avoids a conversion). */
  readonly method: string;
  /** URL path. A query string, if present, is ignored by path conditions and parsed for query ones. */
  readonly path: string;
  /** Query parameters, when the caller already has them parsed. */
  readonly query?: URLSearchParams | undefined;
  /** Header value by lower-case name, or undefined when absent (multiple values joined with ", "). */
  header(name: string): string | undefined;
  /** Name of the calling service, when known. */
  readonly caller?: string | undefined;
}

interface NamedCondition {
  /** Lower-case for headers, as written for query parameters. */
  readonly name: string;
  readonly matcher: StringMatcher;
}

/** A route's conditions, compiled once per rule change. */
export interface CompiledMatch {
  readonly methods: ReadonlySet<string> | undefined;
  readonly callers: ReadonlySet<string> | undefined;
  readonly path: StringMatcher | undefined;
  readonly headers: readonly NamedCondition[];
  readonly query: readonly NamedCondition[];
}

/** Compiles a validated match; undefined for a catch-all. */
export function compileMatch(match: RouteMatch | undefined): CompiledMatch | undefined {
  if (match === undefined || isCatchAll(match)) return undefined;
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : typeof v === 'string' ? [v] : v);
  const conditions = (
    record: Record<string, Parameters<typeof compileStringMatch>[0]> | undefined,
    lower: boolean,
  ) =>
    Object.freeze(
      Object.entries(record ?? {}).map(([name, m]) =>
        Object.freeze({ name: lower ? name.toLowerCase() : name, matcher: compileStringMatch(m) }),
      ),
    );
  return Object.freeze({
    methods: match.method === undefined ? undefined : new Set(list(match.method).map((m) => m.toUpperCase())),
    callers: match.caller === undefined ? undefined : new Set(list(match.caller)),
    path: match.path === undefined ? undefined : compileStringMatch(match.path),
    headers: conditions(match.headers, true),
    query: conditions(match.query, false),
  });
}

/** Whether the request satisfies every condition. Cheapest checks first. */
export function matchesRequest(m: CompiledMatch, request: RouteRequest): boolean {
  if (m.methods !== undefined && !m.methods.has(request.method)) {
    if (!m.methods.has(request.method.toUpperCase())) return false;
  }
  if (m.callers !== undefined && (request.caller === undefined || !m.callers.has(request.caller)))
    return false;
  if (m.path !== undefined) {
    const path = request.path;
    const q = path.indexOf('?');
    if (!matchString(m.path, q < 0 ? path : path.slice(0, q))) return false;
  }
  const headers = m.headers;
  for (let i = 0; i < headers.length; i++) {
    const c = headers[i]!;
    if (!matchString(c.matcher, request.header(c.name))) return false;
  }
  const query = m.query;
  if (query.length > 0) {
    const params = request.query ?? queryOf(request.path);
    for (let i = 0; i < query.length; i++) {
      const c = query[i]!;
      const value = params.get(c.name);
      if (!matchString(c.matcher, value === null ? undefined : value)) return false;
    }
  }
  return true;
}

const noParams = new URLSearchParams();

function queryOf(path: string): URLSearchParams {
  const q = path.indexOf('?');
  return q < 0 ? noParams : new URLSearchParams(path.slice(q + 1));
}
