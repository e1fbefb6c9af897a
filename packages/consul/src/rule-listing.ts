import type { RawRule } from '@meshless/core';

/**
 * The governance prefix holds rule documents and, under `<prefix>/_status/`, what instances write
 * back: a status entry beside each rejected key (`_status/services/catalog/policies`) and the
 * marker (`_status/marker`) that tells a prefix emptied on purpose from one that became empty
 * or unreadable (Consul restarted without its data, a wiped store, a token that lost key:read).
 * Instances need write access to `_status/` only.
 */
export const STATUS_FOLDER = '_status';

/** `<prefix>/_status/marker`. */
export function markerKey(prefix: string): string {
  return `${prefix}/${STATUS_FOLDER}/marker`;
}

/** `<prefix>/services/catalog/policies` -> `<prefix>/_status/services/catalog/policies`. */
export function statusKeyFor(prefix: string, ruleKey: string): string {
  const relative = ruleKey.startsWith(`${prefix}/`) ? ruleKey.slice(prefix.length + 1) : ruleKey;
  return `${prefix}/${STATUS_FOLDER}/${relative}`;
}

/** `<prefix>/_status/services/catalog/policies` -> `<prefix>/services/catalog/policies`; undefined for the marker. */
export function ruleKeyOfStatus(prefix: string, statusKey: string): string | undefined {
  const folder = `${prefix}/${STATUS_FOLDER}/`;
  if (!statusKey.startsWith(folder) || statusKey === markerKey(prefix)) return undefined;
  return `${prefix}/${statusKey.slice(folder.length)}`;
}

export interface StatusEntry {
  readonly key: string;
  readonly value: Uint8Array | null;
  readonly modifyIndex: number;
}

/** One listing of the prefix, split into rule documents and the `_status/` folder. */
export interface SplitListing {
  readonly rules: readonly RawRule[];
  readonly status: ReadonlyMap<string, StatusEntry>;
  readonly marker: boolean;
}

export function splitListing(entries: readonly RawRule[], prefix: string): SplitListing {
  const folder = `${prefix}/${STATUS_FOLDER}/`;
  const rules: RawRule[] = [];
  const status = new Map<string, StatusEntry>();
  for (const e of entries) {
    if (e.key.startsWith(folder)) status.set(e.key, e);
    else rules.push(e);
  }
  return { rules, status, marker: status.has(markerKey(prefix)) };
}

/** What the last listing that was applied had. */
export interface ListingShape {
  readonly rules: number;
  readonly marker: boolean;
  /** A rule key it had, to ask Consul about directly when the listing empties. */
  readonly someKey: string | undefined;
}

export function shapeOf(listing: SplitListing): ListingShape {
  return { rules: listing.rules.length, marker: listing.marker, someKey: listing.rules[0]?.key };
}

/** Every rule went in one listing: apply only after {@link classifyEmptying} says so. */
export function isEmptying(previous: ListingShape | undefined, next: SplitListing): boolean {
  return previous !== undefined && previous.rules > 0 && next.rules.length === 0;
}

/** Why an emptied prefix is held back, or `apply` when it was emptied on purpose. */
export type EmptyingVerdict = 'apply' | 'denied' | 'empty';

/**
 * An emptied listing, judged with the status of a direct GET of a key it used to have. A 403 means
 * the token lost key:read (Consul filters a listing to nothing, answering 404 as for an empty
 * prefix). Otherwise the marker tells: present, the rules were deleted on purpose; absent too, the
 * prefix emptied marker and all (Consul lost its data, a wiped store), unless it only ever held one
 * rule and no marker (an operator deleting the one key means it).
 */
export function classifyEmptying(
  previous: ListingShape,
  next: SplitListing,
  probeStatus: number | undefined,
): EmptyingVerdict {
  if (probeStatus === 403) return 'denied';
  if (next.marker) return 'apply';
  return previous.rules >= 2 || previous.marker ? 'empty' : 'apply';
}
