// The ring-hash and Maglev table fills, on plain typed arrays and strings only: the same code
// builds a table synchronously and in the background worker (hash-build-worker.ts), so both give
// the same table. Imports nothing but hash.ts (the worker loads this file alone).
import { fnvState, hashString, hashWithIndex } from './hash.ts';

/** Owner indexes are packed below the hash in one float64 for a native typed-array sort. */
export const OWNER_BITS = 2 ** 21;

/** A ring to merge the new entries into: its arrays, and old owner index -> new one (-1: dropped). */
export interface RingBase {
  readonly hashes: Uint32Array;
  readonly owners: Uint32Array;
  readonly remap: Int32Array;
}

/**
 * Fills `hashes`/`owners` (length `entries`) with a ring: the entries of `base` whose owner is
 * kept (renumbered through `remap`, which keeps their order), merged by (hash, owner) with the
 * hashed and sorted entries of the fresh endpoints (`freshIndex[f]` their new owner index,
 * `freshIds[f]` their id, `freshCounts[f]` their entry count). Without a base, the full ring.
 * False when the entries do not add up to `entries` (writes past the end are dropped by the
 * typed arrays; the caller then builds in full).
 */
export function fillRing(
  entries: number,
  freshIndex: ArrayLike<number>,
  freshIds: readonly string[],
  freshCounts: ArrayLike<number>,
  base: RingBase | undefined,
  hashes: Uint32Array,
  owners: Uint32Array,
): boolean {
  let freshEntries = 0;
  for (let f = 0; f < freshIds.length; f++) freshEntries += freshCounts[f]!;
  const added = new Float64Array(freshEntries);
  let a = 0;
  for (let f = 0; f < freshIds.length; f++) {
    const state = fnvState(freshIds[f]!);
    const owner = freshIndex[f]!;
    for (let r = 0; r < freshCounts[f]!; r++) added[a++] = hashWithIndex(state, r) * OWNER_BITS + owner;
  }
  added.sort();
  let k = 0;
  let x = 0;
  if (base !== undefined) {
    const { hashes: oldHashes, owners: oldOwners, remap } = base;
    const n = oldHashes.length;
    for (let o = 0; o < n; o++) {
      const owner = remap[oldOwners[o]!]!;
      if (owner < 0) continue;
      const h = oldHashes[o]!;
      const v = h * OWNER_BITS + owner;
      while (x < freshEntries && added[x]! < v) {
        const w = added[x++]!;
        const wo = w % OWNER_BITS;
        owners[k] = wo;
        hashes[k++] = (w - wo) / OWNER_BITS;
      }
      owners[k] = owner;
      hashes[k++] = h;
    }
  }
  while (x < freshEntries) {
    const w = added[x++]!;
    const wo = w % OWNER_BITS;
    owners[k] = wo;
    hashes[k++] = (w - wo) / OWNER_BITS;
  }
  return k === entries;
}

export const OFFSET_SEED = 0x6d61676c; // 'magl'
export const SKIP_SEED = 0x65763031; // 'ev01'

/**
 * Fills a Maglev table of `table.length` (prime) slots for endpoints `ids` (sorted by id) with
 * relative weights `weights` (0..1, the heaviest 1): each walks its own permutation (offset +
 * k x skip, hashed from its id) and claims the next free slot in turn, an endpoint of weight
 * max/3 taking a turn every third iteration.
 */
export function fillMaglev(ids: readonly string[], weights: ArrayLike<number>, table: Int32Array): void {
  const m = table.length;
  table.fill(-1);
  const n = ids.length;
  if (n === 0) return;
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    offset[i] = hashString(ids[i]!, OFFSET_SEED) % m;
    skip[i] = (hashString(ids[i]!, SKIP_SEED) % (m - 1)) + 1;
  }
  let filled = 0;
  for (let iteration = 1; filled < m; iteration++) {
    for (let i = 0; i < n && filled < m; i++) {
      if (iteration * weights[i]! < target[i]!) continue;
      target[i]! += 1;
      let c = (offset[i]! + next[i]! * skip[i]!) % m;
      while (table[c] !== -1) {
        next[i]!++;
        c = (offset[i]! + next[i]! * skip[i]!) % m;
      }
      table[c] = i;
      next[i]!++;
      filled++;
    }
  }
}
