import { z } from 'zod';

/** `createMesh({ propagate })`: inbound headers that travel on to every governed call. */
export interface MeshPropagateOptions {
  /**
   * Header names (HTTP tokens, case-insensitive) copied from the request being served to every
   * governed outbound call made while handling it, unless the call sets the header itself. At
   * most 16; a value over 1 KiB is not carried, nor what passes 4 KiB in all.
   */
  headers: readonly string[];
}

export const MAX_PROPAGATED_HEADERS = 16;
const MAX_NAME_LENGTH = 128;
// RFC 9110 token characters.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Framing and hop-by-hop headers belong to one connection; the mesh's own are set per call.
const NOT_CARRIED = new Set([
  'connection',
  'content-length',
  'content-type',
  'host',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const shown = (value: unknown): string => JSON.stringify(value)?.slice(0, 80) ?? String(value);

const headerName = z
  .custom<string>((v) => typeof v === 'string' && v.length <= MAX_NAME_LENGTH && TOKEN.test(v), {
    error: (iss) => `expected a header name (an HTTP token), got ${shown(iss.input)}`,
  })
  .refine(
    (v) => {
      const name = v.toLowerCase();
      return !NOT_CARRIED.has(name) && !name.startsWith('x-meshless-');
    },
    {
      error: (iss) => `${shown(iss.input)} belongs to one connection or to the mesh; it is never propagated`,
    },
  );

/** The `propagate` option, checked with createMesh's other options (paths like `propagate.headers[1]`). */
export const propagateSchema = z.strictObject({
  headers: z
    .custom<readonly string[]>(Array.isArray, {
      error: (iss) => `expected a list of header names, got ${shown(iss.input)}`,
    })
    .pipe(
      z
        .array(headerName)
        .max(MAX_PROPAGATED_HEADERS, { error: `at most ${MAX_PROPAGATED_HEADERS} header names` }),
    ),
});
