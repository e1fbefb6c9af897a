import { parseRuleDocument, RuleError, validateRuleDocument } from '@meshless/core';
import { routesSection } from 'meshless/contract';

/** The part of a validated routes document read here. */
interface RoutesRule {
  readonly subsets?: Readonly<Record<string, unknown>>;
  readonly routes?: readonly { readonly to?: readonly { subset: string; weight?: number }[] }[];
}

/**
 * Which routes a rollout moves, and how. A route is *managed* when its `to` names the stable subset
 * and nothing but the stable and canary subsets (`[stable]`, `[stable, canary]`, in any order).
 * Everything else is left byte for byte as it was: routes without `to`, routes to the canary only
 * (a beta-users route pinned to v2), routes naming any third subset, and every other field of a
 * managed route (match, stickyBy, mirror, fault, timeouts).
 */
export interface ManagedRoutes {
  /** The parsed document, as stored (what gets edited and written back as JSON). */
  readonly doc: Record<string, unknown>;
  /** Indexes into `routes` of the managed routes. */
  readonly indexes: readonly number[];
  /** The canary's weight on the managed routes; undefined when they disagree. */
  readonly canaryWeight: number | undefined;
}

export class RouteError extends Error {
  override readonly name = 'RouteError';
}

/** Parses and validates a routes document and finds the managed routes. Throws RouteError. */
export function findManagedRoutes(
  raw: Uint8Array,
  key: string,
  stable: string,
  canary: string,
): ManagedRoutes {
  let doc: unknown;
  let rule: RoutesRule;
  try {
    doc = parseRuleDocument(raw, key);
    rule = validateRuleDocument(routesSection, doc, key) as RoutesRule;
  } catch (error) {
    if (RuleError.isInstance(error)) throw new RouteError(`${key} is invalid: ${(error as Error).message}`);
    throw error;
  }
  const subsets = rule.subsets ?? {};
  for (const name of [stable, canary]) {
    if (!Object.hasOwn(subsets, name)) {
      throw new RouteError(`${key}: subsets.${name} is not defined (define it, e.g. by meta.version)`);
    }
  }
  if (stable === canary) throw new RouteError(`the canary and stable subsets are both ${stable}`);
  const indexes: number[] = [];
  const weights = new Set<number>();
  (rule.routes ?? []).forEach((route, i) => {
    const to = route.to;
    if (!to?.some((d) => d.subset === stable)) return;
    if (!to.every((d) => d.subset === stable || d.subset === canary)) return;
    indexes.push(i);
    const c = to.find((d) => d.subset === canary);
    weights.add(c ? (c.weight ?? (to.length === 1 ? 100 : 0)) : 0);
  });
  if (indexes.length === 0) {
    throw new RouteError(
      `${key}: no route sends to ${stable} alone or to ${stable} and ${canary} only; nothing to move ` +
        `(add e.g. { "to": [{ "subset": "${stable}", "weight": 100 }, { "subset": "${canary}", "weight": 0 }] })`,
    );
  }
  return {
    doc: doc as Record<string, unknown>,
    indexes,
    canaryWeight: weights.size === 1 ? [...weights][0] : undefined,
  };
}

/** The document with every managed route's `to` set to stable 100-w, canary w (other fields kept). */
export function withCanaryWeight(
  managed: ManagedRoutes,
  stable: string,
  canary: string,
  weight: number,
): Buffer {
  const routes = (managed.doc.routes as Record<string, unknown>[]).map((route, i) =>
    managed.indexes.includes(i)
      ? {
          ...route,
          to: [
            { subset: stable, weight: 100 - weight },
            { subset: canary, weight },
          ],
        }
      : route,
  );
  return Buffer.from(`${JSON.stringify({ ...managed.doc, routes }, null, 2)}\n`);
}
