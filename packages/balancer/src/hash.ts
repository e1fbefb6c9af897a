/**
 * Fast, well-mixed 32-bit hashing for ring hash and Maglev: FNV-1a over UTF-16 code units,
 * finished with murmur3's fmix32 so that similar keys ("user-1", "user-2") land far apart.
 * Not cryptographic; stable across processes and releases (rings must agree across callers).
 */
export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a state after `s`, not yet finished (extend it with `hashWithIndex`). */
export function fnvState(s: string, seed = FNV_OFFSET): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/** murmur3's 32-bit finaliser: full avalanche of an intermediate state. */
export function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Unsigned 32-bit hash of a string. */
export function hashString(s: string, seed = FNV_OFFSET): number {
  return fmix32(fnvState(s, seed));
}

/** Hash of `state` (from fnvState) extended by the 4 bytes of `index`: replica keys, no strings built. */
export function hashWithIndex(state: number, index: number): number {
  let h = Math.imul(state ^ (index & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((index >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((index >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (index >>> 24), FNV_PRIME);
  return fmix32(h);
}
