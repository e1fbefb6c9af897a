import type { Logger } from '@meshless/core';

export type IntentionAction = 'allow' | 'deny';

export interface HeaderPermission {
  name: string;
  present?: boolean;
  exact?: string;
  prefix?: string;
  suffix?: string;
  regex?: string;
  invert?: boolean;
}

export interface HttpPermission {
  pathExact?: string;
  pathPrefix?: string;
  pathRegex?: string;
  methods?: readonly string[];
  headers?: readonly HeaderPermission[];
}

export interface IntentionPermission {
  action: IntentionAction;
  http?: HttpPermission;
}

export interface Intention {
  readonly id: string;
  /** A service name, or '*' for any. */
  readonly source: string;
  /** undefined when permissions are given (L7). */
  readonly action: IntentionAction | undefined;
  readonly permissions: readonly IntentionPermission[] | undefined;
  readonly precedence: number;
  readonly description: string;
}

/** Bounds on what one answer may make us hold: Consul's data is untrusted like KV. */
export const INTENTION_LIMITS = Object.freeze({
  body: 8 * 1024 * 1024,
  entries: 50_000,
  /** kept per destination, after filtering */
  kept: 10_000,
  name: 256,
  description: 1024,
  permissions: 128,
  methods: 16,
  headers: 32,
  /** a path, header value or (RE2) regex string; evaluating a regex safely is the consumer's job */
  value: 1024,
});

type Warn = Pick<Logger, 'warn'>;

/** Consul's precedence table (intention.go): exact beats wildcard, destination before source. */
export function intentionPrecedence(srcNs: string, src: string, dstNs: string, dst: string): number {
  const part = (ns: string, name: string) => (ns === '*' ? 0 : name === '*' ? 1 : 2);
  const d = part(dstNs, dst);
  const s = part(srcNs, src);
  return d * 3 + s + 1;
}

/**
 * `GET /v1/connect/intentions` (Consul 1.8+): every intention the token may read. Keeps those for
 * `service` (or a '*' destination) in the default namespace; malformed entries are skipped with a
 * warning.
 */
export function parseLegacyIntentions(body: Buffer | string, service: string, log?: Warn): Intention[] {
  const list = parseBounded(body);
  if (!Array.isArray(list)) throw new Error('intentions: the answer is not a list');
  if (list.length > INTENTION_LIMITS.entries)
    throw new Error(`intentions: ${list.length} entries, more than ${INTENTION_LIMITS.entries}`);
  const out: Intention[] = [];
  let skipped = 0;
  for (const raw of list) {
    const e = asObject(raw);
    if (!e) {
      skipped++;
      continue;
    }
    const dst = str(e, 'DestinationName');
    if (dst !== service && dst !== '*') {
      if (dst === undefined) skipped++;
      continue;
    }
    if (!okNamespace(str(e, 'SourceNS')) || !okNamespace(str(e, 'DestinationNS'))) continue;
    const id = str(e, 'ID');
    const source = str(e, 'SourceName');
    const action = actionOf(str(e, 'Action'));
    const permissions = permissionsOf(own(e, 'Permissions'));
    if (!id || !validName(source) || id.length > INTENTION_LIMITS.name || permissions === null) {
      skipped++;
      continue;
    }
    // 1.9+ answers L7 intentions here too, with Permissions and no Action.
    if (action === undefined && permissions === undefined) {
      skipped++;
      continue;
    }
    const precedence = precedenceOf(
      own(e, 'Precedence'),
      str(e, 'SourceNS'),
      source,
      str(e, 'DestinationNS'),
      dst,
    );
    out.push(
      make(id, source, permissions ? undefined : action, permissions, precedence, str(e, 'Description')),
    );
  }
  if (skipped > 0) log?.warn('intentions: malformed entries skipped', { service, skipped });
  return finish(out, service, log);
}

/**
 * `GET /v1/config/service-intentions` (Consul 1.9+): every config entry of that kind. Keeps the
 * entries named `service` or '*'. A source has no ID of its own unless it was created through the
 * legacy API (LegacyID); the others get `<destination>/<source>`, stable and unique per entry.
 */
export function parseServiceIntentionsEntries(
  body: Buffer | string,
  service: string,
  log?: Warn,
): Intention[] {
  const list = parseBounded(body);
  if (!Array.isArray(list)) throw new Error('service-intentions: the answer is not a list');
  if (list.length > INTENTION_LIMITS.entries)
    throw new Error(`service-intentions: ${list.length} entries, more than ${INTENTION_LIMITS.entries}`);
  const out: Intention[] = [];
  let skipped = 0;
  for (const raw of list) {
    const entry = asObject(raw);
    const dst = entry && str(entry, 'Name');
    if (!entry || dst === undefined) {
      skipped++;
      continue;
    }
    if ((dst !== service && dst !== '*') || !okNamespace(str(entry, 'Namespace'))) continue;
    const sources = own(entry, 'Sources');
    if (!Array.isArray(sources) || sources.length > INTENTION_LIMITS.entries) {
      skipped++;
      continue;
    }
    for (const rawSource of sources) {
      const s = asObject(rawSource);
      const source = s && str(s, 'Name');
      if (!s || !validName(source)) {
        skipped++;
        continue;
      }
      // Peers (1.13+) and other partitions are not this cluster's services: never match them.
      if (str(s, 'Peer') || !okNamespace(str(s, 'Partition')) || !okNamespace(str(s, 'Namespace'))) continue;
      const action = actionOf(str(s, 'Action'));
      const permissions = permissionsOf(own(s, 'Permissions'));
      if (permissions === null || (action === undefined && permissions === undefined)) {
        skipped++;
        continue;
      }
      const legacyId = str(s, 'LegacyID');
      const id = legacyId && legacyId.length <= INTENTION_LIMITS.name ? legacyId : `${dst}/${source}`;
      const precedence = precedenceOf(
        own(s, 'Precedence'),
        str(s, 'Namespace'),
        source,
        str(entry, 'Namespace'),
        dst,
      );
      out.push(
        make(id, source, permissions ? undefined : action, permissions, precedence, str(s, 'Description')),
      );
    }
  }
  if (skipped > 0) log?.warn('service-intentions: malformed entries skipped', { service, skipped });
  return finish(out, service, log);
}

/** Highest precedence first; ties: an exact source before '*', then by id (a total order). */
export function compareIntentions(a: Intention, b: Intention): number {
  if (a.precedence !== b.precedence) return b.precedence - a.precedence;
  const aw = a.source === '*';
  const bw = b.source === '*';
  if (aw !== bw) return aw ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Deep equality of two sorted lists (what a consumer could observe). */
export function sameIntentions(a: readonly Intention[], b: readonly Intention[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.id !== y.id ||
      x.source !== y.source ||
      x.action !== y.action ||
      x.precedence !== y.precedence ||
      x.description !== y.description ||
      JSON.stringify(x.permissions) !== JSON.stringify(y.permissions)
    )
      return false;
  }
  return true;
}

function finish(out: Intention[], service: string, log?: Warn): Intention[] {
  out.sort(compareIntentions);
  if (out.length > INTENTION_LIMITS.kept) {
    log?.warn('intentions: too many for one destination; the lowest precedence ones are dropped', {
      service,
      count: out.length,
      kept: INTENTION_LIMITS.kept,
    });
    out.length = INTENTION_LIMITS.kept;
  }
  return out;
}

function make(
  id: string,
  source: string,
  action: IntentionAction | undefined,
  permissions: readonly IntentionPermission[] | undefined,
  precedence: number,
  description: string | undefined,
): Intention {
  return Object.freeze({
    id,
    source,
    action,
    permissions,
    precedence,
    description: (description ?? '').slice(0, INTENTION_LIMITS.description),
  });
}

function parseBounded(body: Buffer | string): unknown {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > INTENTION_LIMITS.body) throw new Error(`intentions: answer of ${size} bytes is too large`);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return text.trim() === '' ? [] : JSON.parse(text);
}

/** OSS has only `default`; '' and '*' are how 1.8 and 1.9 spell "no namespace" and "any". */
function okNamespace(ns: string | undefined): boolean {
  return ns === undefined || ns === '' || ns === 'default' || ns === '*';
}

function validName(name: string | undefined): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= INTENTION_LIMITS.name;
}

function actionOf(value: string | undefined): IntentionAction | undefined {
  return value === 'allow' || value === 'deny' ? value : undefined;
}

function precedenceOf(
  value: unknown,
  srcNs: string | undefined,
  src: string,
  dstNs: string | undefined,
  dst: string,
): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 1000) return value;
  return intentionPrecedence(srcNs || 'default', src, dstNs || 'default', dst);
}

/** undefined: none given (L4); null: malformed (the whole source is skipped, never half-applied). */
function permissionsOf(value: unknown): IntentionPermission[] | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > INTENTION_LIMITS.permissions) return null;
  if (value.length === 0) return undefined;
  const out: IntentionPermission[] = [];
  for (const raw of value) {
    const p = asObject(raw);
    const action = p && actionOf(str(p, 'Action'));
    if (!p || !action) return null;
    const httpRaw = own(p, 'HTTP');
    if (httpRaw === undefined || httpRaw === null) {
      out.push(Object.freeze({ action }));
      continue;
    }
    const http = httpOf(httpRaw);
    if (!http) return null;
    out.push(Object.freeze({ action, http }));
  }
  return Object.freeze(out) as IntentionPermission[];
}

function httpOf(value: unknown): HttpPermission | null {
  const h = asObject(value);
  if (!h) return null;
  const out: { -readonly [K in keyof HttpPermission]: HttpPermission[K] } = {};
  const paths = ['PathExact', 'PathPrefix', 'PathRegex'] as const;
  let given = 0;
  for (const key of paths) {
    const v = own(h, key);
    if (v === undefined || v === null || v === '') continue;
    if (!boundedString(v)) return null;
    given++;
    if (key === 'PathExact') out.pathExact = v;
    else if (key === 'PathPrefix') out.pathPrefix = v;
    else out.pathRegex = v;
  }
  if (given > 1) return null; // Consul allows at most one path matcher
  const methods = own(h, 'Methods');
  if (methods !== undefined && methods !== null) {
    if (!Array.isArray(methods) || methods.length > INTENTION_LIMITS.methods) return null;
    if (!methods.every((m) => typeof m === 'string' && /^[A-Z]{1,16}$/.test(m))) return null;
    if (methods.length > 0) out.methods = Object.freeze([...methods]) as string[];
  }
  const headers = own(h, 'Header');
  if (headers !== undefined && headers !== null) {
    if (!Array.isArray(headers) || headers.length > INTENTION_LIMITS.headers) return null;
    const list: HeaderPermission[] = [];
    for (const raw of headers) {
      const header = headerOf(raw);
      if (!header) return null;
      list.push(header);
    }
    if (list.length > 0) out.headers = Object.freeze(list) as HeaderPermission[];
  }
  return Object.freeze(out);
}

function headerOf(value: unknown): HeaderPermission | null {
  const h = asObject(value);
  const name = h && own(h, 'Name');
  if (!h || typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/.test(name)) return null;
  const out: HeaderPermission = { name: name.toLowerCase() };
  let matchers = 0;
  if (own(h, 'Present') === true) {
    out.present = true;
    matchers++;
  }
  for (const key of ['Exact', 'Prefix', 'Suffix', 'Regex'] as const) {
    const v = own(h, key);
    if (v === undefined || v === null || v === '') continue;
    if (!boundedString(v)) return null;
    matchers++;
    if (key === 'Exact') out.exact = v;
    else if (key === 'Prefix') out.prefix = v;
    else if (key === 'Suffix') out.suffix = v;
    else out.regex = v;
  }
  if (matchers !== 1) return null; // exactly one matcher per header rule, as Consul validates
  if (own(h, 'Invert') === true) out.invert = true;
  return Object.freeze(out);
}

function boundedString(v: unknown): v is string {
  return typeof v === 'string' && v.length <= INTENTION_LIMITS.value;
}

function asObject(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
}

/** An own property only: `Object.prototype` never answers. */
function own(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

function str(o: object, key: string): string | undefined {
  const v = own(o, key);
  return typeof v === 'string' ? v : undefined;
}
