import type { TextMapGetter, TextMapSetter } from './otel.ts';

/**
 * Headers a request is about to send: a plain object (undici, node:http), an array of
 * `[name, value]` pairs (WHATWG HeadersInit), a flat `[name, value, name, value]` array (undici's
 * raw form; recognised by a string first element), or anything with `set(name, value)` (Headers).
 */
export type OutgoingHeaders =
  | Record<string, string | string[] | number | undefined>
  | [string, string][]
  | string[]
  | { set(name: string, value: string): void };

/** Headers a request arrived with: node:http's IncomingHttpHeaders (lower-case keys) or a WHATWG Headers. */
export type IncomingHeaders =
  | Record<string, string | string[] | number | undefined>
  | { get(name: string): string | null; keys(): Iterable<string> };

export const headerSetter: TextMapSetter<OutgoingHeaders> = {
  set(carrier, key, value) {
    if (Array.isArray(carrier)) {
      if (carrier.length > 0 && typeof carrier[0] === 'string') (carrier as string[]).push(key, value);
      else (carrier as [string, string][]).push([key, value]);
    } else if (typeof (carrier as { set?: unknown }).set === 'function') {
      (carrier as { set(name: string, value: string): void }).set(key, value);
    } else {
      (carrier as Record<string, string>)[key] = value;
    }
  },
};

export const headerGetter: TextMapGetter<IncomingHeaders> = {
  get(carrier, key) {
    if (typeof (carrier as { get?: unknown }).get === 'function') {
      return (carrier as { get(name: string): string | null }).get(key) ?? undefined;
    }
    // Propagators ask for lower-case names, which is how node:http stores them.
    const value = (carrier as Record<string, string | string[] | number | undefined>)[key];
    return typeof value === 'number' ? String(value) : value;
  },
  keys(carrier) {
    if (typeof (carrier as { get?: unknown }).get === 'function') {
      return [...(carrier as { keys(): Iterable<string> }).keys()];
    }
    return Object.keys(carrier);
  },
};
