/**
 * What a 403 from Consul means in ACL words: the permission the request needed, derived from its
 * method and path by one table, or Consul's own text when the answer carries it (1.8 says only
 * "Permission denied"; later versions name the rule). Operators read these in logs, so they name
 * the HCL rule to add, never the token.
 */

type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

interface Rule {
  /** Path prefix after `/v1/`; `exact` rules match the whole path only. */
  readonly prefix: string;
  readonly exact?: boolean;
  /** `rest`: the decoded path after the prefix; `body`: the request body as text. */
  readonly need: (method: Method, rest: string, body: string) => string;
}

const read = (m: Method) => m === 'GET';

/** First match wins, so longer prefixes come before shorter ones. */
const RULES: readonly Rule[] = [
  {
    prefix: 'agent/service/register',
    exact: true,
    need: (_m, _r, body) => `service:write on ${named(jsonField(body, 'Name'), 'the service')}`,
  },
  {
    prefix: 'agent/service/',
    need: (_m, rest) => `service:write on the service of instance ${quote(afterSlash(rest))}`,
  },
  { prefix: 'agent/connect/ca/leaf/', need: (_m, rest) => `service:write on ${quote(rest)}` },
  {
    prefix: 'agent/connect/authorize',
    exact: true,
    need: (_m, _r, body) => `service:write on ${named(jsonField(body, 'Target'), 'the target')}`,
  },
  { prefix: 'agent/check/', need: () => 'service:write on the service the check belongs to' },
  { prefix: 'agent/self', exact: true, need: () => 'agent:read' },
  { prefix: 'agent/services', exact: true, need: () => 'service:read' },
  { prefix: 'health/service/', need: (_m, rest) => `service:read on ${quote(rest)} and node:read` },
  { prefix: 'health/connect/', need: (_m, rest) => `service:read on ${quote(rest)} and node:read` },
  { prefix: 'catalog/service/', need: (_m, rest) => `service:read on ${quote(rest)} and node:read` },
  { prefix: 'catalog/services', exact: true, need: () => 'service:read' },
  { prefix: 'catalog/nodes', exact: true, need: () => 'node:read' },
  { prefix: 'kv/', need: (m, rest) => `${read(m) ? 'key:read' : 'key:write'} on ${quote(rest)}` },
  {
    prefix: 'connect/intentions',
    need: (m) =>
      read(m)
        ? 'intentions:read on the destination service (service "<svc>" { intentions = "read" })'
        : 'intentions:write on the destination service (service "<svc>" { intentions = "write" })',
  },
  {
    prefix: 'config/service-intentions/',
    need: (m, rest) =>
      read(m)
        ? `intentions:read on ${quote(rest)} (service ${quote(rest)} { intentions = "read" })`
        : `intentions:write on ${quote(rest)} (service ${quote(rest)} { intentions = "write" })`,
  },
  { prefix: 'connect/ca/', need: (m) => (read(m) ? 'operator:read' : 'operator:write') },
  { prefix: 'operator/', need: (m) => (read(m) ? 'operator:read' : 'operator:write') },
  { prefix: 'acl/', need: (m) => (read(m) ? 'acl:read' : 'acl:write') },
];

/** Longest name quoted into a message; a key or service name past it is cut. */
const MAX_NAME = 200;
/** Consul's own text is kept to this many characters. */
const MAX_CONSUL_TEXT = 300;
const MISSING = 'Permission denied: Missing ';
/** A request body longer than this is not parsed for a service name. */
const MAX_BODY_SCAN = 64 * 1024;

/** The permission a request needed, in Consul's ACL words, from its method and path alone. */
export function requiredPermission(method: string, path: string, body?: string | Uint8Array): string {
  const m = method.toUpperCase() as Method;
  const q = path.indexOf('?');
  const bare = q < 0 ? path : path.slice(0, q);
  if (bare.startsWith('/v1/')) {
    const tail = bare.slice(4);
    for (const rule of RULES) {
      if (rule.exact ? tail !== rule.prefix : !tail.startsWith(rule.prefix)) continue;
      return rule.need(m, decode(tail.slice(rule.prefix.length)), bodyText(body));
    }
  }
  return `a permission for ${m} ${cut(bare)}`;
}

/**
 * The permission a 403 answer names: Consul's own words when the body has them (`lacks permission
 * 'service:write' on "x"` in later versions, `Missing service:write on x` from 1.8's registration;
 * `ACL not found` for a token it does not know), else undefined (1.8's bare "Permission denied").
 */
export function consulPermissionText(answer: string): string | undefined {
  const text = answer.slice(0, 4 * MAX_CONSUL_TEXT);
  const lacks = text.indexOf('lacks permission');
  if (lacks >= 0) return cutTo(text.slice(lacks + 'lacks permission'.length).trim(), MAX_CONSUL_TEXT);
  // 1.8 on some endpoints (service registration): "Permission denied: Missing service:write on web".
  const missing = text.indexOf(MISSING);
  if (missing >= 0) return cutTo(text.slice(missing + MISSING.length).trim(), MAX_CONSUL_TEXT);
  if (text.includes('ACL not found'))
    return 'a token Consul knows (it answered "ACL not found": the token is unknown, deleted or expired)';
  return undefined;
}

/** The permission to report for a 403: Consul's words first, the table's otherwise. */
export function missingPermission(
  method: string,
  path: string,
  body: string | Uint8Array | undefined,
  answer: string,
): string {
  return consulPermissionText(answer) ?? requiredPermission(method, path, body);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function bodyText(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '';
  if (typeof body === 'string') return body.length > MAX_BODY_SCAN ? '' : body;
  return body.byteLength > MAX_BODY_SCAN ? '' : Buffer.from(body).toString('utf8');
}

/** A top-level string field of a JSON object body, or undefined. */
function jsonField(body: string, field: string): string | undefined {
  if (body === '') return undefined;
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, field)) return undefined;
    const v = (value as Record<string, unknown>)[field];
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}

function afterSlash(rest: string): string {
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(slash + 1);
}

function named(name: string | undefined, fallback: string): string {
  return name === undefined ? fallback : quote(name);
}

/** JSON quoting: control characters and quotes in a hostile name cannot forge a log line. */
function quote(name: string): string {
  return JSON.stringify(cut(name));
}

function cut(text: string): string {
  return cutTo(text, MAX_NAME);
}

function cutTo(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
