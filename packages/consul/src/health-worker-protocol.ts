import { ConsulError, ConsulPermissionError, type Endpoint } from '@meshless/core';
import type { WatchStats } from './blocking-watch.ts';
import type { ResolvedConsulOptions } from './connection.ts';

/** One health watch, as the main thread asks the discovery worker to run it. */
export interface HealthWatchSpec {
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly service: string;
  readonly datacenter: string | undefined;
  readonly includeWarning: boolean;
  readonly stale: boolean;
  readonly waitMs?: number;
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number };
  readonly rateLimit?: { readonly perSecond?: number; readonly burst?: number };
}

export interface HealthWorkerData {
  readonly consul: ResolvedConsulOptions;
}

export type ToWorker =
  | { readonly op: 'watch'; readonly id: number; readonly spec: HealthWatchSpec }
  | { readonly op: 'stop'; readonly id: number }
  /** Write the watch's current list to `file` (the resolver's last-known-good copy), soon. */
  | {
      readonly op: 'cache';
      readonly id: number;
      readonly file: string;
      readonly datacenter: string | undefined;
    }
  | { readonly op: 'flush' }
  /** Report the worker's heap (after a collection when the process runs with --expose-gc). */
  | { readonly op: 'heap' };

/** An error as it crosses the thread boundary (the class is rebuilt on the other side). */
export interface WireError {
  readonly message: string;
  readonly status?: number;
  readonly retryable?: boolean;
  readonly permission?: string;
}

export type FromWorker =
  | {
      readonly op: 'change';
      readonly id: number;
      readonly stats: WatchStats;
      /** The first answer of this watch: the whole list. */
      readonly full?: readonly Endpoint[];
      readonly upserts?: readonly Endpoint[];
      readonly removed?: readonly string[];
    }
  | { readonly op: 'answer'; readonly id: number; readonly stats: WatchStats }
  | {
      readonly op: 'error';
      readonly id: number;
      readonly stats: WatchStats;
      readonly error: WireError;
      readonly failures: number;
      readonly retryInMs: number;
    }
  | { readonly op: 'stopped'; readonly id: number }
  | { readonly op: 'flushed' }
  | { readonly op: 'heap'; readonly usedBytes: number }
  | {
      readonly op: 'log';
      readonly level: 'warn';
      readonly message: string;
      readonly fields: Record<string, unknown>;
    };

export function toWire(error: unknown): WireError {
  const e = error as Partial<ConsulError> & { permission?: string };
  return {
    message: (error as Error)?.message ?? String(error),
    ...(typeof e?.status === 'number' ? { status: e.status } : {}),
    ...(typeof e?.retryable === 'boolean' ? { retryable: e.retryable } : {}),
    ...(typeof e?.permission === 'string' ? { permission: e.permission } : {}),
  };
}

export function fromWire(wire: WireError): ConsulError {
  if (wire.permission !== undefined) return new ConsulPermissionError(wire.message, wire.permission);
  return new ConsulError(wire.message, {
    ...(wire.status !== undefined ? { status: wire.status } : {}),
    ...(wire.retryable !== undefined ? { retryable: wire.retryable } : {}),
  });
}
