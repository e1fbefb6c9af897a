/**
 * Sticky routing keys. A key (user id) hashes to a point in [0, 1); routes lay their destinations
 * out as ranges over that interval, so the same key lands on the same destination while the
 * weights stay, and only keys in ranges that moved change destination when they change.
 */

// Mixed into every hash so route stickiness does not correlate with a balancer's ring hash of
// the same header.
const SALT = 0x9e3779b9;

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 for short, similar keys. */
export function hashKey(key: string): number {
  let h = (0x811c9dc5 ^ SALT) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's point in [0, 1). */
export function stickyPoint(key: string): number {
  return hashKey(key) / 4294967296;
}

/**
 * The value of cookie `name` in a Cookie header (`a=1; b="2"`), unquoted, or undefined. Scans in
 * place: allocates only the returned value.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = n;
    if (header.charCodeAt(i + name.length) === 61 /* = */ && header.startsWith(name, i)) {
      let start = i + name.length + 1;
      while (end > start && header.charCodeAt(end - 1) === 32) end--;
      if (end - start >= 2 && header.charCodeAt(start) === 34 && header.charCodeAt(end - 1) === 34) {
        start++;
        end--;
      }
      return header.slice(start, end);
    }
    i = end + 1;
  }
  return undefined;
}
