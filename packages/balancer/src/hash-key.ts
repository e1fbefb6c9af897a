import type { HashOn } from './balancer-rule.ts';

/** Request headers as fetch (`Headers`) or node:http (`IncomingHttpHeaders`) give them. */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface HashKeySource {
  readonly headers?: HeadersLike;
  /** Path with query string, or a full URL. */
  readonly url?: string;
}

/** Reads the hash key of a request; prepared once per rule, cheap per call. */
export type HashKeyExtractor = (request: HashKeySource) => string | undefined;

/**
 * Prepares the function that reads `hashOn` from a request: a header value, a cookie or a
 * query parameter. Missing values give undefined (the hash pickers then pick at random).
 */
export function hashKeyExtractor(hashOn: HashOn | undefined): HashKeyExtractor {
  if (hashOn === undefined) return () => undefined;
  if ('header' in hashOn) {
    const name = hashOn.header.toLowerCase();
    return (req) => header(req.headers, name);
  }
  if ('cookie' in hashOn) {
    const name = hashOn.cookie;
    return (req) => cookie(header(req.headers, 'cookie'), name);
  }
  const name = hashOn.queryParam;
  return (req) => queryParam(req.url, name);
}

function header(headers: HeadersLike | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  // Own properties only: a hash on `constructor` must not read Object.prototype's.
  let v = Object.hasOwn(record, name) ? record[name] : undefined;
  if (v === undefined) {
    // Plain objects written by hand may not be lower-cased.
    for (const k of Object.keys(record)) if (k.toLowerCase() === name) v = record[k];
  }
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

function cookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    return safeDecode(value);
  }
  return undefined;
}

function queryParam(url: string | undefined, name: string): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const key = safeDecode((eq < 0 ? part : part.slice(0, eq)).replaceAll('+', ' '));
    if (key === name) return eq < 0 ? '' : safeDecode(part.slice(eq + 1).replaceAll('+', ' '));
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
