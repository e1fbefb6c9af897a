import type { Random } from '@meshless/core';
import type { FaultDecision, MirrorDecision, RouteDecision, RouteInfo } from './route-decision.ts';
import { type CompiledMatch, compileMatch, matchesRequest, type RouteRequest } from './route-match.ts';
import type { RouteRule, RoutesRule } from './routes-schema.ts';
import { cookieValue, stickyPoint } from './sticky-key.ts';
import { type SubsetFilters, subsetFilters } from './subset.ts';

interface CompiledFault {
  readonly delayPercent: number;
  readonly abortPercent: number;
  readonly delay: FaultDecision;
  readonly abort: FaultDecision;
  readonly both: FaultDecision;
}

interface CompiledRoute {
  readonly info: RouteInfo;
  readonly match: CompiledMatch | undefined;
  /** Cumulative weights (upper bounds in percent) in range order. */
  readonly bounds: Float64Array;
  readonly weights: readonly number[];
  /** The last destination with a positive weight: catches rounding at the top of the range. */
  readonly last: number;
  readonly stickyHeader: string | undefined;
  readonly stickyCookie: string | undefined;
  readonly decisions: readonly RouteDecision[];
  readonly fallbacks: readonly RouteDecision[];
  readonly unavailable: readonly RouteDecision[];
  readonly mirror: MirrorDecision | undefined;
  readonly fault: CompiledFault | undefined;
}

const ALL = 0;
const SOME = 1;
const NONE = 2;

/** Which destinations of a route have endpoints; rebuilt on membership change. */
interface RouteState {
  readonly mode: typeof ALL | typeof SOME | typeof NONE;
  readonly available: readonly boolean[];
  /** Cumulative weights over the available destinations (empty ones have zero width). */
  readonly bounds: Float64Array;
  readonly total: number;
  readonly last: number;
  readonly mirror: boolean;
}

/**
 * The compiled routes of one service: built once per rule change, immutable, shared by every
 * call. `route()` walks the routes in order (first match wins) and returns a prepared decision;
 * it allocates nothing on the common paths.
 *
 * Destination choice: each route lays its destinations out as ranges over [0, 100) in the order
 * of their subset names, sized by weight. Without `stickyBy` (or when the request lacks the
 * header/cookie, or it is empty) a random point picks the range. With `stickyBy`, the point is a
 * hash of the value, so a user keeps its destination. When weights change, users move only where
 * ranges moved: with two destinations (90/10 -> 50/50) exactly the users whose point lies between
 * the old and new boundary move, all in the same direction. With three or more, changing one
 * weight also shifts the ranges laid out after it, so some users can move between destinations
 * whose weights did not change; change the weights of neighbouring subsets (by name) in pairs to
 * keep movement minimal.
 *
 * Empty subsets: `withAvailability()` returns a table that knows which subsets have endpoints.
 * A request whose destination is empty goes to the route's other destinations in proportion to
 * their weights (equally if all are 0), with `fallback: true`; a sticky user falls back
 * deterministically. When no destination has endpoints the decision has `available: false`.
 */
export class RouteTable {
  /** The routes, in order, ending with the implicit catch-all. */
  readonly routes: readonly RouteInfo[];
  /** Subset filters by name, for partitionBySubset. */
  readonly subsets: SubsetFilters;
  private readonly compiled: readonly CompiledRoute[];
  private readonly states: readonly RouteState[];

  private constructor(
    compiled: readonly CompiledRoute[],
    states: readonly RouteState[],
    subsets: SubsetFilters,
  ) {
    this.compiled = compiled;
    this.states = states;
    this.subsets = subsets;
    this.routes = Object.freeze(compiled.map((r) => r.info));
  }

  /** Compiles a validated document (undefined: no document, everything to all endpoints). */
  static compile(rule: RoutesRule | undefined): RouteTable {
    const routes = rule?.routes ?? [];
    const compiled = [...routes.map((r, i) => compileRoute(r, i)), compileRoute({}, routes.length, true)];
    const everything = () => true;
    return new RouteTable(
      compiled,
      compiled.map((r) => availability(r, everything)),
      subsetFilters(rule?.subsets),
    );
  }

  /**
   * The same routes with membership applied: `hasEndpoints(subset)` (undefined: the whole service)
   * is asked once per subset here, never per call. Tables start with every subset available.
   */
  withAvailability(hasEndpoints: (subset: string | undefined) => boolean): RouteTable {
    const cache = new Map<string | undefined, boolean>();
    const has = (subset: string | undefined) => {
      let v = cache.get(subset);
      if (v === undefined) {
        v = hasEndpoints(subset);
        cache.set(subset, v);
      }
      return v;
    };
    return new RouteTable(
      this.compiled,
      this.compiled.map((r) => availability(r, has)),
      this.subsets,
    );
  }

  /** Chooses the route and destination for a request. `random` is drawn at most once. */
  route(request: RouteRequest, random: Random): RouteDecision {
    const compiled = this.compiled;
    let i = 0;
    // The implicit catch-all is last, so the loop always ends on a match.
    while (i < compiled.length - 1) {
      const m = compiled[i]!.match;
      if (m === undefined || matchesRequest(m, request)) break;
      i++;
    }
    const r = compiled[i]!;
    const s = this.states[i]!;
    let d = 0;
    let point = 0;
    if (r.weights.length > 1) {
      let u = -1;
      if (r.stickyHeader !== undefined) {
        const key =
          r.stickyCookie === undefined
            ? request.header(r.stickyHeader)
            : cookieValue(request.header('cookie'), r.stickyCookie);
        if (key) u = stickyPoint(key);
      }
      if (u < 0) u = random();
      point = u * 100;
      d = pick(r.bounds, point, r.last);
    }
    if (s.mode === ALL || s.available[d]) return r.decisions[d]!;
    if (s.mode === NONE) return r.unavailable[d]!;
    // Where the point sat inside the empty range, rescaled onto the available ones: proportional
    // to their weights, and still deterministic for a sticky key.
    const start = d === 0 ? 0 : r.bounds[d - 1]!;
    const within = (point - start) / (r.bounds[d]! - start);
    return r.fallbacks[pick(s.bounds, within * s.total, s.last)]!;
  }

  /** The route's mirror, for `percent` of calls, while its subset has endpoints. */
  shouldMirror(route: RouteInfo, random: Random): MirrorDecision | undefined {
    const r = this.compiled[route.index];
    if (r === undefined || r.info !== route || r.mirror === undefined || !this.states[route.index]!.mirror) {
      return undefined;
    }
    return chance(r.mirror.percent, random) ? r.mirror : undefined;
  }

  /** The fault to inject into this call, if any (delay and abort are drawn independently). */
  fault(route: RouteInfo, random: Random): FaultDecision | undefined {
    const r = this.compiled[route.index];
    const f = r?.info === route ? r.fault : undefined;
    if (f === undefined) return undefined;
    const delayed = chance(f.delayPercent, random);
    const aborted = chance(f.abortPercent, random);
    return delayed ? (aborted ? f.both : f.delay) : aborted ? f.abort : undefined;
  }
}

/** The table used while a service has no routes document: everything to all endpoints. */
export const defaultRouteTable: RouteTable = RouteTable.compile(undefined);

/** Shorthand for RouteTable.compile. */
export function compileRoutes(rule: RoutesRule | undefined): RouteTable {
  return RouteTable.compile(rule);
}

function chance(percent: number, random: Random): boolean {
  return percent >= 100 || (percent > 0 && random() * 100 < percent);
}

function pick(bounds: Float64Array, point: number, last: number): number {
  for (let i = 0; i < bounds.length; i++) if (point < bounds[i]!) return i;
  return last;
}

function cumulative(weights: readonly number[]): { bounds: Float64Array; last: number } {
  const bounds = new Float64Array(weights.length);
  let sum = 0;
  let last = 0;
  weights.forEach((w, i) => {
    sum += w;
    bounds[i] = sum;
    if (w > 0) last = i;
  });
  return { bounds, last };
}

function compileRoute(rule: RouteRule, index: number, implicit = false): CompiledRoute {
  const dests = rule.to
    ? [...rule.to]
        .sort((a, b) => (a.subset < b.subset ? -1 : a.subset > b.subset ? 1 : 0))
        .map((d) => ({ subset: d.subset as string | undefined, weight: d.weight ?? 100 }))
    : [{ subset: undefined, weight: 100 }];
  const info: RouteInfo = Object.freeze({
    name: rule.name ?? (implicit ? '(default)' : `routes[${index}]`),
    index,
    timeoutMs: rule.timeoutMs,
    retry: rule.retry
      ? Object.freeze({ attempts: rule.retry.attempts, perTryTimeoutMs: rule.retry.perTryTimeoutMs })
      : undefined,
    destinations: Object.freeze(dests.map((d) => Object.freeze(d))),
  });
  const decide = (fallback: boolean, available: boolean) =>
    Object.freeze(dests.map((d) => Object.freeze({ route: info, subset: d.subset, fallback, available })));
  const weights = dests.map((d) => d.weight);
  const { bounds, last } = cumulative(weights);
  const sticky = rule.stickyBy;
  const fault = rule.fault;
  const delayMs = fault?.delay?.ms ?? 0;
  const status = fault?.abort?.status ?? 503;
  return {
    info,
    match: compileMatch(rule.match),
    bounds,
    weights,
    last,
    stickyHeader: sticky
      ? sticky.cookie === undefined
        ? sticky.header!.toLowerCase()
        : 'cookie'
      : undefined,
    stickyCookie: sticky?.cookie,
    decisions: decide(false, true),
    fallbacks: decide(true, true),
    unavailable: decide(false, false),
    mirror: rule.mirror
      ? Object.freeze({ route: info, subset: rule.mirror.subset, percent: rule.mirror.percent ?? 100 })
      : undefined,
    fault:
      fault && (fault.delay || fault.abort)
        ? {
            delayPercent: fault.delay ? (fault.delay.percent ?? 100) : 0,
            abortPercent: fault.abort ? (fault.abort.percent ?? 100) : 0,
            delay: Object.freeze({ route: info, delayMs, abortStatus: undefined }),
            abort: Object.freeze({ route: info, delayMs: 0, abortStatus: status }),
            both: Object.freeze({ route: info, delayMs, abortStatus: status }),
          }
        : undefined,
  };
}

function availability(r: CompiledRoute, has: (subset: string | undefined) => boolean): RouteState {
  const available = r.info.destinations.map((d) => has(d.subset));
  const count = available.filter(Boolean).length;
  let weights = r.weights.map((w, i) => (available[i] ? w : 0));
  if (count > 0 && weights.every((w) => w === 0)) weights = available.map((a) => (a ? 1 : 0));
  const { bounds, last } = cumulative(weights);
  return Object.freeze({
    mode: count === available.length ? ALL : count === 0 ? NONE : SOME,
    available: Object.freeze(available),
    bounds,
    total: bounds[bounds.length - 1]!,
    last,
    mirror: r.mirror === undefined || has(r.mirror.subset),
  });
}
