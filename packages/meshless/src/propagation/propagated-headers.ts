import { AsyncLocalStorage } from 'node:async_hooks';

// The headers carried by the request being served: name, value, name, value (lower-cased names).
// Its own store rather than the deadline's (see decisions.md, issue 13): a deadline is a number
// any code narrows with runWithDeadline, this is a list only the inbound side sets.
const storage = new AsyncLocalStorage<readonly string[]>();
/** An inbound request's headers, as node:http gives them (lower-cased names). */
export type InboundHeaders = Readonly<Record<string, string | string[] | undefined>>;

const NOTHING: readonly string[] = Object.freeze([]);

/** A value longer than this is not carried (cut, it would mean something else). */
export const MAX_PROPAGATED_VALUE = 1024;
/** Names and values carried by one request, in all; the headers past it are not carried. */
export const MAX_PROPAGATED_TOTAL = 4096;

/**
 * `createMesh({ propagate: { headers } })`: the inbound side captures the named headers of the
 * request it serves and runs the handler with them in its async context; the client adds them to
 * every call made inside it that does not set them itself. Only the names listed here are copied,
 * also when another mesh in the process captured more.
 */
export class PropagatedHeaders {
  readonly names: readonly string[];
  private readonly allowed: ReadonlySet<string>;

  /** `names` as the option schema checked them (HTTP tokens, at most 16). */
  constructor(names: readonly string[]) {
    this.names = [...new Set(names.map((n) => n.toLowerCase()))];
    this.allowed = new Set(this.names);
  }

  /** Runs `fn` with the named headers of `headers` (an inbound request's) carried. */
  run<T>(headers: InboundHeaders, fn: () => T): T {
    return storage.run(this.capture(headers), fn);
  }

  /** The named headers of an inbound request, within the bounds. */
  capture(headers: InboundHeaders): readonly string[] {
    const out: string[] = [];
    let total = 0;
    for (const name of this.names) {
      const raw = Object.hasOwn(headers, name) ? headers[name] : undefined;
      const value = Array.isArray(raw) ? raw.join(', ') : raw;
      if (value === undefined || value.length > MAX_PROPAGATED_VALUE) continue;
      total += name.length + value.length;
      if (total > MAX_PROPAGATED_TOTAL) break;
      out.push(name, value);
    }
    return out.length > 0 ? out : NOTHING;
  }

  /** Adds the carried headers this mesh names to an outbound call's (lower-cased) headers, unless set. */
  addTo(headers: Record<string, string>): void {
    const carried = storage.getStore();
    if (carried === undefined) return;
    for (let i = 0; i < carried.length; i += 2) {
      const name = carried[i]!;
      if (this.allowed.has(name) && !Object.hasOwn(headers, name)) headers[name] = carried[i + 1]!;
    }
  }
}
