import { type Endpoint, nullRecord } from '@meshless/core';

/** The fields of one `/v1/health/service/<name>` entry that discovery reads (Consul 1.8 to 1.21). */
export interface HealthServiceEntry {
  Node?: { Node?: string; Address?: string; Datacenter?: string } | null;
  Service?: {
    ID?: string;
    Service?: string;
    Address?: string;
    Port?: number;
    Tags?: string[] | null;
    Meta?: Record<string, string> | null;
    Weights?: { Passing?: number; Warning?: number } | null;
    Connect?: { Native?: boolean } | null;
  } | null;
  Checks?: readonly { Status?: string }[] | null;
}

const emptyTags: readonly string[] = Object.freeze([]);
// Endpoint meta has no prototype: its keys are whatever the services registered (Consul allows
// `__proto__` and `constructor`), and a lookup must find only those.
const emptyMeta: Readonly<Record<string, string>> = Object.freeze(nullRecord<string>());
const noEndpoints: readonly Endpoint[] = Object.freeze([]);

/**
 * Turns a health answer into immutable endpoints sorted by id, so equal sets compare equal.
 * Entries without an ID, an address or a valid port are skipped (nothing could call them).
 * `includeWarning` is for answers fetched without `?passing`: critical instances are dropped and
 * warning ones weighted by `Weights.Warning`, as Consul's DNS interface does.
 * Identical tag lists and meta maps are shared between endpoints: a fleet has few distinct ones,
 * and 10,000 copies of `{ version, zone, region }` are most of a big list's heap.
 */
export function parseHealthServices(
  body: string | Uint8Array,
  service: string,
  datacenter?: string,
  options: { includeWarning?: boolean } = {},
): readonly Endpoint[] {
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'); // a view, not a copy
  const entries = JSON.parse(text) as HealthServiceEntry[] | null;
  if (!Array.isArray(entries)) return noEndpoints;
  const pool = new EndpointInterner();
  const out: Endpoint[] = [];
  for (const entry of entries) {
    const svc = entry.Service;
    const node = entry.Node;
    if (!svc?.ID) continue;
    const address = svc.Address || node?.Address;
    const port = svc.Port;
    if (!address || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    // Without `?passing` Consul returns every instance: drop the critical ones, as DNS does.
    const health = options.includeWarning ? worstStatus(entry.Checks) : 'passing';
    if (health === 'critical') continue;
    const meta = pool.meta(svc.Meta);
    out.push(
      makeEndpoint({
        id: `${node?.Node ?? ''}/${svc.ID}`,
        service: svc.Service || service,
        address,
        port,
        tags: pool.tags(svc.Tags),
        meta,
        weight:
          health === 'warning'
            ? weightOf(svc.Weights?.Warning, undefined)
            : weightOf(svc.Weights?.Passing, meta.weight),
        zone: meta.zone,
        region: meta.region,
        datacenter: node?.Datacenter || datacenter,
        mtls: svc.Connect?.Native === true,
      }),
    );
  }
  out.sort(byId);
  return Object.freeze(out);
}

/** The worst status among an instance's checks (anything unknown counts as critical). */
function worstStatus(checks: HealthServiceEntry['Checks']): 'passing' | 'warning' | 'critical' {
  let worst: 'passing' | 'warning' = 'passing';
  for (const c of checks ?? []) {
    if (c.Status === 'warning') worst = 'warning';
    else if (c.Status !== 'passing') return 'critical';
  }
  return worst;
}

/** Weights.Passing, else meta `weight`, else 1; never below 1. */
export function weightOf(passing: number | undefined, metaWeight: string | undefined): number {
  if (typeof passing === 'number' && Number.isFinite(passing)) return Math.max(1, passing);
  const fromMeta = metaWeight === undefined ? Number.NaN : Number(metaWeight);
  return Number.isFinite(fromMeta) ? Math.max(1, fromMeta) : 1;
}

/** A frozen Endpoint without `undefined` optional fields (so deep equality and JSON round-trips agree). */
export function makeEndpoint(fields: {
  id: string;
  service: string;
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  weight: number;
  zone?: string | undefined;
  region?: string | undefined;
  datacenter?: string | undefined;
  mtls?: boolean | undefined;
}): Endpoint {
  const e: { -readonly [K in keyof Endpoint]: Endpoint[K] } = {
    id: fields.id,
    service: fields.service,
    address: fields.address,
    port: fields.port,
    tags: fields.tags,
    meta: fields.meta,
    weight: fields.weight,
  };
  if (fields.zone) e.zone = fields.zone;
  if (fields.region) e.region = fields.region;
  if (fields.datacenter) e.datacenter = fields.datacenter;
  if (fields.mtls === true) e.mtls = true;
  return Object.freeze(e);
}

/** Deep equality of two endpoint lists sorted by id (what a consumer could observe). */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameEndpoint(a[i]!, b[i]!)) return false;
  return true;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (a === b) return true;
  if (
    a.id !== b.id ||
    a.address !== b.address ||
    a.port !== b.port ||
    a.weight !== b.weight ||
    a.service !== b.service ||
    a.zone !== b.zone ||
    a.region !== b.region ||
    a.datacenter !== b.datacenter ||
    a.mtls !== b.mtls
  )
    return false;
  if (a.tags !== b.tags) {
    if (a.tags.length !== b.tags.length) return false;
    for (let i = 0; i < a.tags.length; i++) if (a.tags[i] !== b.tags[i]) return false;
  }
  if (a.meta !== b.meta) {
    const ka = Object.keys(a.meta);
    if (ka.length !== Object.keys(b.meta).length) return false;
    for (const k of ka) if (a.meta[k] !== b.meta[k] || !Object.hasOwn(b.meta, k)) return false;
  }
  return true;
}

function byId(a: Endpoint, b: Endpoint): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Shares identical tag lists and meta maps between endpoints (frozen; meta without a prototype).
 * Bounded: past `limit` distinct values it starts over, so a long-lived one (an endpoint list
 * updated by deltas) cannot grow without end; values handed out stay valid.
 */
export class EndpointInterner {
  private readonly tagPool = new Map<string, readonly string[]>();
  private readonly metaPool = new Map<string, Readonly<Record<string, string>>>();
  private readonly limit: number;

  constructor(limit = 4096) {
    this.limit = limit;
  }

  tags(value: readonly string[] | null | undefined): readonly string[] {
    return intern(this.tagPool, value, tagsKey, freezeTags, emptyTags, this.limit);
  }

  meta(value: Readonly<Record<string, string>> | null | undefined): Readonly<Record<string, string>> {
    return intern(this.metaPool, value, metaKey, freezeMeta, emptyMeta, this.limit);
  }
}

function intern<V, R>(
  pool: Map<string, R>,
  value: V | null | undefined,
  key: (v: V) => string,
  freeze: (v: V) => R,
  empty: R,
  limit: number,
): R {
  if (value === null || value === undefined) return empty;
  const k = key(value);
  if (k === '') return empty;
  let shared = pool.get(k);
  if (shared === undefined) {
    shared = freeze(value);
    if (pool.size >= limit) pool.clear();
    pool.set(k, shared);
  }
  return shared;
}

// \u0000 cannot occur in Consul tags or meta, so joined keys are unambiguous.
function tagsKey(tags: readonly string[]): string {
  return Array.isArray(tags) ? tags.join('\u0000') : '';
}

function metaKey(meta: Readonly<Record<string, string>>): string {
  let k = '';
  for (const name of Object.keys(meta)) k += `${name}\u0000${meta[name]}\u0000`;
  return k;
}

function freezeTags(tags: readonly string[]): readonly string[] {
  return Object.freeze(tags.filter((t) => typeof t === 'string'));
}

function freezeMeta(meta: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const copy = nullRecord<string>();
  for (const name of Object.keys(meta)) if (typeof meta[name] === 'string') copy[name] = meta[name];
  return Object.freeze(copy);
}

/** The on-disk last-known-good list of a resolver. */
export interface CachedEndpoints {
  service: string;
  datacenter?: string;
  endpoints: Endpoint[];
}

/** Rebuilds endpoints from a cache file, dropping anything malformed (the file is not trusted). */
export function endpointsFromCache(value: unknown): readonly Endpoint[] | undefined {
  const list = (value as Partial<CachedEndpoints> | null)?.endpoints;
  if (!Array.isArray(list)) return undefined;
  const out: Endpoint[] = [];
  for (const e of list as Partial<Endpoint>[]) {
    if (
      typeof e?.id !== 'string' ||
      typeof e.service !== 'string' ||
      typeof e.address !== 'string' ||
      !Number.isInteger(e.port) ||
      typeof e.weight !== 'number' ||
      !Array.isArray(e.tags) ||
      typeof e.meta !== 'object' ||
      e.meta === null
    )
      continue;
    out.push(
      makeEndpoint({
        id: e.id,
        service: e.service,
        address: e.address,
        port: e.port as number,
        tags: Object.freeze(e.tags.filter((t) => typeof t === 'string')),
        meta: Object.freeze(freezeMeta(e.meta as Record<string, string>)),
        weight: Math.max(1, e.weight),
        zone: typeof e.zone === 'string' ? e.zone : undefined,
        region: typeof e.region === 'string' ? e.region : undefined,
        datacenter: typeof e.datacenter === 'string' ? e.datacenter : undefined,
        mtls: e.mtls === true,
      }),
    );
  }
  out.sort(byId);
  return Object.freeze(out);
}
