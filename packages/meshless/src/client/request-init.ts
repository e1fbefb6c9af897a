import type { HeadersInit } from './request-view.ts';

/** `fetch` options: the WHATWG ones meshless uses, plus governance hints. */
export interface MeshRequestInit {
  method?: string;
  headers?: HeadersInit;
  body?:
    | string
    | Uint8Array
    | ArrayBuffer
    | ArrayBufferView
    | URLSearchParams
    | Blob
    | FormData
    | ReadableStream
    | NodeJS.ReadableStream
    | null;
  signal?: AbortSignal;
  /** Operation name for `methods.<name>` policy overrides (e.g. `getItem`). */
  operation?: string;
  /** Declares a non-idempotent method (POST, PATCH) safe to retry and hedge. */
  idempotent?: boolean;
  /** Hash key for ring-hash/Maglev when the balancer rule's `hashOn` does not apply. */
  hashKey?: string;
}
