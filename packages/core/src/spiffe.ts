/** A Consul service identity, parsed from a SPIFFE URI. */
export interface SpiffeId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly datacenter: string;
  readonly service: string;
}

/** Longest SPIFFE URI accepted (the SPIFFE ID spec's limit). */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** Longest `subjectaltname` string read; a longer one is not an identity certificate of ours. */
export const MAX_SUBJECT_ALT_NAME_LENGTH = 16 * 1024;

const SCHEME = 'spiffe://';

/** [A-Za-z0-9._-]: the characters the SPIFFE ID spec allows in a path segment. */
function isSegmentChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || // .
    c === 0x2d || // -
    c === 0x5f // _
  );
}

/**
 * The spec allows only lower-case letters in a trust domain; Consul's is `<uuid>.consul`. An
 * upper-case variant would compare unequal to the roots' trust domain anyway: refusing it here
 * keeps one spelling per identity.
 */
function isTrustDomainChar(c: number): boolean {
  return !(c >= 0x41 && c <= 0x5a) && isSegmentChar(c);
}

/** Whether `s[from..to)` is a valid segment: non-empty, allowed characters, not `.` or `..`. */
function validPart(s: string, from: number, to: number, allowed: (c: number) => boolean): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (!allowed(s.charCodeAt(i))) return false;
  const len = to - from;
  if (len <= 2 && s.charCodeAt(from) === 0x2e && (len === 1 || s.charCodeAt(from + 1) === 0x2e)) return false;
  return true;
}

/**
 * `spiffe://<td>/ns/<ns>/dc/<dc>/svc/<service>` (Consul's service identity) or undefined.
 * Strict and hand-scanned (no regex): lower-case scheme; no userinfo, port, query, fragment or
 * percent-encoding (none of `@ : ? # %` is an allowed character); exactly these six path
 * segments, none empty, `.` or `..`. Other Consul identities (agents, gateways, partitions)
 * are not service identities and give undefined.
 */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  if (typeof uri !== 'string' || uri.length > MAX_SPIFFE_ID_LENGTH || !uri.startsWith(SCHEME))
    return undefined;
  const n = uri.length;
  const tdStart = SCHEME.length;
  const tdEnd = uri.indexOf('/', tdStart);
  if (tdEnd < 0 || !validPart(uri, tdStart, tdEnd, isTrustDomainChar)) return undefined;
  // Six segments: ns <ns> dc <dc> svc <service>; `bounds` holds each segment's [start, end).
  const bounds: number[] = [];
  let start = tdEnd + 1;
  for (let k = 0; k < 6; k++) {
    let end = uri.indexOf('/', start);
    if (end < 0) end = n;
    if (!validPart(uri, start, end, isSegmentChar)) return undefined;
    bounds.push(start, end);
    if (end === n) {
      if (k !== 5) return undefined;
    } else if (k === 5) return undefined; // a seventh segment (or a trailing '/')
    start = end + 1;
  }
  const seg = (k: number) => uri.slice(bounds[2 * k]!, bounds[2 * k + 1]!);
  if (seg(0) !== 'ns' || seg(2) !== 'dc' || seg(4) !== 'svc') return undefined;
  return Object.freeze({
    uri,
    trustDomain: uri.slice(tdStart, tdEnd),
    namespace: seg(1),
    datacenter: seg(3),
    service: seg(5),
  });
}

/**
 * The SPIFFE id of a peer certificate, from Node's `PeerCertificate.subjectaltname`
 * (`URI:spiffe://..., DNS:x, IP Address:...`): exactly one `spiffe` URI SAN, else undefined
 * (two identities are no identity). Node writes a value holding `,`, `"`, `\` or control
 * characters as a JSON string (`URI:"spiffe://a,b"`); such a URI is never a valid id, and as a
 * quoted URI could hide a second identity the whole name is refused.
 */
export function spiffeIdFromSubjectAltName(san: string | undefined): SpiffeId | undefined {
  if (typeof san !== 'string' || san.length > MAX_SUBJECT_ALT_NAME_LENGTH) return undefined;
  const n = san.length;
  let found: string | undefined;
  let count = 0;
  let i = 0;
  while (i < n) {
    const colon = san.indexOf(':', i);
    if (colon < 0) return undefined; // not Node's format
    const type = san.slice(i, colon);
    let j = colon + 1;
    let end: number;
    if (san.charCodeAt(j) === 0x22) {
      // A JSON string: skip to the closing quote, escapes included.
      j++;
      while (j < n && san.charCodeAt(j) !== 0x22) j += san.charCodeAt(j) === 0x5c ? 2 : 1;
      if (j >= n) return undefined; // unterminated
      if (type === 'URI') return undefined;
      end = j + 1;
    } else {
      // Node quotes any value holding ',', so ", " ends an unquoted one (an RFC 2253 DirName
      // may hold a bare ',').
      const sep = san.indexOf(', ', j);
      end = sep < 0 ? n : sep;
      if (type === 'URI') {
        const value = san.slice(j, end);
        // Any spelling of the scheme counts, so `SPIFFE://` cannot slip in as a second identity.
        if (value.length >= 7 && value.slice(0, 7).toLowerCase() === 'spiffe:') {
          count++;
          found = value;
        }
      }
    }
    if (end === n) break;
    // Node separates entries with ", ".
    if (san.charCodeAt(end) !== 0x2c || san.charCodeAt(end + 1) !== 0x20) return undefined;
    i = end + 2;
  }
  return count === 1 ? parseSpiffeId(found!) : undefined;
}

/**
 * `spiffe://<td>/ns/<namespace>/dc/<dc>/svc/<service>`: the identity a caller expects of a
 * service. Throws a RangeError on a part parseSpiffeId would refuse (a configuration mistake,
 * better seen at startup than as every handshake failing).
 */
export function serviceSpiffeId(
  trustDomain: string,
  datacenter: string,
  service: string,
  namespace = 'default',
): string {
  const uri = `${SCHEME}${trustDomain}/ns/${namespace}/dc/${datacenter}/svc/${service}`;
  const parsed = parseSpiffeId(uri);
  if (
    parsed === undefined ||
    parsed.trustDomain !== trustDomain ||
    parsed.namespace !== namespace ||
    parsed.datacenter !== datacenter ||
    parsed.service !== service
  ) {
    throw new RangeError(
      `not a valid SPIFFE service id: ${JSON.stringify(uri.slice(0, 200))} (parts must be [A-Za-z0-9._-], the trust domain lower-case)`,
    );
  }
  return uri;
}

/**
 * Undefined when a server certificate's `san` (Node's `subjectaltname`) names `service` in this
 * trust domain and (when given) `datacenter`, else why not: the check a caller over mutual TLS
 * makes of the server it dialled (the governed client and the CLI's signals reader share it).
 */
export function serverIdentityProblem(
  san: string | undefined,
  service: string,
  trustDomain: string | undefined,
  datacenter: string | undefined,
): string | undefined {
  const id = spiffeIdFromSubjectAltName(san);
  if (!id) return 'no single SPIFFE service id in its certificate';
  if (id.trustDomain !== trustDomain) return `trust domain ${id.trustDomain} is not this cluster's`;
  if (id.service !== service) return `its certificate names service ${id.service}`;
  if (datacenter !== undefined && id.datacenter !== datacenter)
    return `its certificate names datacenter ${id.datacenter}, not ${datacenter}`;
  return undefined;
}
