import { LinearRegex, regexProblem } from '@meshless/canary';
import type { HeaderPermission, IntentionPermission } from './intention-types.ts';

/** What an authorization decision reads of a request. */
export interface AuthzRequest {
  readonly method: string;
  /** `req.url`: the query string, if any, is not part of the path matched. */
  readonly path: string;
  /** Node's IncomingHttpHeaders: lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

// Header rule kinds (numbers: a switch on small integers in the hot path).
const PRESENT = 0;
const EXACT = 1;
const PREFIX = 2;
const SUFFIX = 3;
const REGEX = 4;
type HeaderKind = typeof PRESENT | typeof EXACT | typeof PREFIX | typeof SUFFIX | typeof REGEX;

interface HeaderCondition {
  readonly name: string;
  readonly kind: HeaderKind;
  readonly value: string;
  readonly regex: LinearRegex | undefined;
  readonly invert: boolean;
}

/** One L7 permission, compiled once per intentions change. */
export interface CompiledPermission {
  /** False for a deny permission and for one that had an invalid part (fail closed). */
  readonly allowed: boolean;
  readonly methods: ReadonlySet<string> | undefined;
  readonly pathExact: string | undefined;
  readonly pathPrefix: string | undefined;
  readonly pathRegex: LinearRegex | undefined;
  readonly headers: readonly HeaderCondition[];
}

const PERMISSION_KEYS = new Set(['action', 'http']);
const HTTP_KEYS = new Set(['pathExact', 'pathPrefix', 'pathRegex', 'methods', 'headers']);
const HEADER_KEYS = new Set(['name', 'present', 'exact', 'prefix', 'suffix', 'regex', 'invert']);
const HEADER_MATCHERS = ['exact', 'prefix', 'suffix', 'regex'] as const;

/**
 * Compiles one permission. A part that cannot be enforced as written (an unknown field, a regex
 * regexProblem() refuses, two path matchers, a header rule without exactly one matcher) is
 * reported under `at` and dropped, and the permission becomes deny-only: it then matches at least
 * what it was meant to and denies, so an invalid rule never lets more through than it said.
 */
export function compilePermission(
  raw: IntentionPermission,
  at: string,
  problems: string[],
): CompiledPermission {
  let invalid = false;
  const problem = (field: string, message: string) => {
    problems.push(`${at}${field}: ${message}`);
    invalid = true;
  };
  if (!isObject(raw)) {
    problem('', 'not an object');
    return denyAll;
  }
  unknownKeys(raw, PERMISSION_KEYS, '', problem);
  if (raw.action !== 'allow' && raw.action !== 'deny') problem('.action', `expected "allow" or "deny"`);
  let methods: Set<string> | undefined;
  let pathExact: string | undefined;
  let pathPrefix: string | undefined;
  let pathRegex: LinearRegex | undefined;
  const headers: HeaderCondition[] = [];
  const http = raw.http;
  if (http !== undefined && !isObject(http)) problem('.http', 'not an object');
  else if (http !== undefined) {
    unknownKeys(http, HTTP_KEYS, '.http', problem);
    const paths = (['pathExact', 'pathPrefix', 'pathRegex'] as const).filter((k) => given(http[k]));
    const path = paths.length === 1 ? http[paths[0]!] : undefined;
    if (paths.length > 1)
      problem('.http', `at most one of pathExact, pathPrefix, pathRegex; got ${paths.join(', ')}`);
    else if (paths.length === 1 && typeof path !== 'string') problem(`.http.${paths[0]}`, 'not a string');
    else if (paths[0] === 'pathExact') pathExact = path;
    else if (paths[0] === 'pathPrefix') pathPrefix = path;
    else if (paths[0] === 'pathRegex') pathRegex = regexOf(path!, '.http.pathRegex', problem);
    if (http.methods !== undefined) {
      if (!Array.isArray(http.methods) || !http.methods.every((m) => typeof m === 'string')) {
        problem('.http.methods', 'not a list of strings');
      } else if (http.methods.length > 0) methods = new Set(http.methods);
    }
    if (http.headers !== undefined) {
      if (!Array.isArray(http.headers)) problem('.http.headers', 'not a list');
      else {
        http.headers.forEach((h, k) => {
          const c = headerOf(h, `.http.headers[${k}]`, problem);
          if (c !== undefined) headers.push(c);
        });
      }
    }
  }
  return Object.freeze({
    allowed: !invalid && raw.action === 'allow',
    methods,
    pathExact,
    pathPrefix,
    pathRegex,
    headers: Object.freeze(headers),
  });
}

function headerOf(
  h: HeaderPermission,
  at: string,
  problem: (field: string, message: string) => void,
): HeaderCondition | undefined {
  if (!isObject(h)) {
    problem(at, 'not an object');
    return undefined;
  }
  let bad = false;
  const local = (field: string, message: string) => {
    bad = true;
    problem(field, message);
  };
  unknownKeys(h, HEADER_KEYS, at, local);
  if (typeof h.name !== 'string' || h.name === '') local(`${at}.name`, 'expected a header name');
  if (h.invert !== undefined && typeof h.invert !== 'boolean') local(`${at}.invert`, 'not a boolean');
  if (h.present !== undefined && typeof h.present !== 'boolean') local(`${at}.present`, 'not a boolean');
  const set = HEADER_MATCHERS.filter((k) => given(h[k]));
  for (const k of set) if (typeof h[k] !== 'string') local(`${at}.${k}`, 'not a string');
  const count = set.length + (h.present === true ? 1 : 0);
  if (count !== 1) local(at, `expected exactly one of present, exact, prefix, suffix, regex; got ${count}`);
  if (bad) return undefined;
  const name = h.name.toLowerCase();
  const invert = h.invert === true;
  if (h.present === true) return Object.freeze({ name, kind: PRESENT, value: '', regex: undefined, invert });
  const key = set[0]!;
  const value = h[key]!;
  if (key === 'regex') {
    const regex = regexOf(value, `${at}.regex`, problem);
    return regex && Object.freeze({ name, kind: REGEX, value, regex, invert });
  }
  const kind = key === 'exact' ? EXACT : key === 'prefix' ? PREFIX : SUFFIX;
  return Object.freeze({ name, kind, value, regex: undefined, invert });
}

function regexOf(
  pattern: string,
  field: string,
  problem: (field: string, message: string) => void,
): LinearRegex | undefined {
  const why = regexProblem(pattern);
  if (why !== undefined) {
    problem(field, why);
    return undefined;
  }
  return new LinearRegex(pattern);
}

/** Whether the request satisfies every condition of `p`; `path` is the request's path before '?'. */
export function permissionMatches(p: CompiledPermission, req: AuthzRequest, path: string): boolean {
  if (p.methods !== undefined && !p.methods.has(req.method)) return false;
  if (p.pathExact !== undefined && path !== p.pathExact) return false;
  if (p.pathPrefix !== undefined && !path.startsWith(p.pathPrefix)) return false;
  if (p.pathRegex !== undefined && !p.pathRegex.test(path)) return false;
  const headers = p.headers;
  for (let i = 0; i < headers.length; i++) if (!headerMatches(headers[i]!, req.headers)) return false;
  return true;
}

/**
 * Envoy's HeaderMatcher, which enforces Consul's L7 intentions: repeated values are joined with
 * ','; an absent header matches only an inverted `present` rule (an inverted `exact` does not
 * match a request without the header).
 */
function headerMatches(c: HeaderCondition, headers: AuthzRequest['headers']): boolean {
  // Own properties only: a rule on `constructor` must not find Object.prototype's.
  const raw = Object.hasOwn(headers, c.name) ? headers[c.name] : undefined;
  const value =
    raw === undefined
      ? undefined
      : typeof raw === 'string'
        ? raw
        : raw.length > 0
          ? raw.join(',')
          : undefined;
  if (value === undefined) return c.invert && c.kind === PRESENT;
  let match: boolean;
  switch (c.kind) {
    case PRESENT:
      match = true;
      break;
    case EXACT:
      match = value === c.value;
      break;
    case PREFIX:
      match = value.startsWith(c.value);
      break;
    case SUFFIX:
      match = value.endsWith(c.value);
      break;
    default:
      match = c.regex!.test(value);
  }
  return match !== c.invert;
}

/** Consul's (Go's) zero value: an empty string is a field not given. */
function given(v: unknown): boolean {
  return v !== undefined && v !== '';
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKeys(
  o: object,
  known: ReadonlySet<string>,
  at: string,
  problem: (field: string, message: string) => void,
): void {
  for (const key of Object.keys(o)) {
    if (!known.has(key) && (o as Record<string, unknown>)[key] !== undefined) {
      problem(`${at}.${key}`, `unknown field (known: ${[...known].join(', ')})`);
    }
  }
}

const denyAll: CompiledPermission = Object.freeze({
  allowed: false,
  methods: undefined,
  pathExact: undefined,
  pathPrefix: undefined,
  pathRegex: undefined,
  headers: Object.freeze([]),
});
