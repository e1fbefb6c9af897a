// Messages between the main thread (hash-build-host.ts) and the background builder's thread.
import type { RingBase } from './hash-tables.ts';

export type BuildRequest =
  | {
      readonly id: number;
      readonly kind: 'ring';
      readonly entries: number;
      readonly freshIndex: Uint32Array;
      readonly freshIds: readonly string[];
      readonly freshCounts: Uint32Array;
      readonly base: RingBase | undefined;
    }
  | {
      readonly id: number;
      readonly kind: 'maglev';
      readonly ids: readonly string[];
      readonly weights: Float64Array;
      readonly size: number;
    };

export type BuildReply =
  | { readonly id: number; readonly kind: 'ring'; readonly hashes: Uint32Array; readonly owners: Uint32Array }
  | { readonly id: number; readonly kind: 'maglev'; readonly table: Int32Array }
  | { readonly id: number; readonly error: string };

/** A request as the caller writes it: the host numbers it. */
export type BuildJob = BuildRequest extends infer R
  ? R extends BuildRequest
    ? Omit<R, 'id'>
    : never
  : never;
