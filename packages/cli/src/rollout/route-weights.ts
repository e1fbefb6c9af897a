import { isDeepStrictEqual } from 'node:util';
import { parseRuleDocument, RuleError, validateRuleDocument } from '@meshless/core';
import { routesSection } from 'meshless/contract';
import { type Document, isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

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
  /** The parsed document, as stored (what gets edited; written back as JSON when it was JSON). */
  readonly doc: Record<string, unknown>;
  /** The stored text when it is YAML: edited in place, so the operator's comments and layout stay. */
  readonly yaml?: string;
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
  // As parseRuleDocument tells the two apart (it has accepted the bytes as UTF-8 already).
  const text = Buffer.from(raw).toString('utf8');
  const isJson = /^\s*[{[]/.test(text);
  return {
    doc: doc as Record<string, unknown>,
    ...(isJson ? {} : { yaml: text }),
    indexes,
    canaryWeight: weights.size === 1 ? [...weights][0] : undefined,
  };
}

/**
 * The document with every managed route's `to` set to stable 100-w, canary w (other fields kept).
 * JSON is written as JSON. YAML is edited where it stands, so the operator's comments and layout
 * stay: only the weight numbers change when both destinations have one, else the `yaml` package
 * edits the nodes and writes the document anew (comments kept). Either is written only when it
 * reads back as the same rules as the JSON edit (destination order aside: the router lays
 * destinations out by subset name); otherwise the JSON edit is.
 */
export function withCanaryWeight(
  managed: ManagedRoutes,
  stable: string,
  canary: string,
  weight: number,
): Buffer {
  const to = () => [
    { subset: stable, weight: 100 - weight },
    { subset: canary, weight },
  ];
  const routes = (managed.doc.routes as Record<string, unknown>[]).map((route, i) =>
    managed.indexes.includes(i) ? { ...route, to: to() } : route,
  );
  const next = { ...managed.doc, routes };
  if (managed.yaml !== undefined) {
    const edited = editYaml(managed.yaml, managed.indexes, stable, canary, weight, to);
    if (edited !== undefined && sameRules(edited, next, managed.indexes)) return Buffer.from(edited);
  }
  return Buffer.from(`${JSON.stringify(next, null, 2)}\n`);
}

/** The YAML text with the managed routes' weights set; undefined where it cannot be edited. */
function editYaml(
  text: string,
  indexes: readonly number[],
  stable: string,
  canary: string,
  weight: number,
  to: () => unknown,
): string | undefined {
  // Already parsed and bounded by parseRuleDocument (which refused duplicate keys).
  let doc: Document;
  try {
    doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: false });
  } catch {
    return undefined;
  }
  if (doc.errors.length > 0) return undefined;
  const routes = doc.get('routes', true);
  if (!isSeq(routes)) return undefined;
  // Where each weight number stands in the text; none kept once a node has to be added.
  const splices: { start: number; end: number; value: number }[] = [];
  let inPlace = true;
  for (const i of indexes) {
    const route = routes.items[i];
    if (!isMap(route)) return undefined; // an alias: editing it would edit every use
    const dests = route.get('to', true);
    const items = isSeq(dests) ? dests.items : [];
    const maps = items.filter((d): d is YAMLMap => isMap(d));
    const ones = (name: string) => maps.filter((d) => d.get('subset') === name).length;
    if (!isSeq(dests) || maps.length !== items.length || ones(stable) !== 1 || ones(canary) > 1) {
      route.set('to', doc.createNode(to()));
      inPlace = false;
      continue;
    }
    for (const d of maps) {
      const value = d.get('subset') === stable ? 100 - weight : weight;
      const node = d.get('weight', true);
      if (isScalar(node) && node.range && !node.anchor)
        splices.push({ start: node.range[0], end: node.range[1], value });
      else inPlace = false;
      d.set('weight', value);
    }
    if (ones(canary) === 0) {
      const added = doc.createNode({ subset: canary, weight }) as YAMLMap;
      added.flow = dests.flow === true || maps.some((m) => m.flow === true);
      dests.items.push(added);
      inPlace = false;
    }
  }
  if (!inPlace) return doc.toString({ lineWidth: 0, ...styleOf(text) });
  let out = text;
  for (const x of splices.sort((a, b) => b.start - a.start))
    out = `${out.slice(0, x.start)}${x.value}${out.slice(x.end)}`;
  return out;
}

/** The text's style where the `yaml` package lets it be set (it writes 2, `- ` indented, `[ a ]`). */
function styleOf(text: string): { indent: number; indentSeq: boolean; flowCollectionPadding: boolean } {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  const column = (l: string) => l.length - l.trimStart().length;
  let indent: number | undefined;
  let indentSeq: boolean | undefined;
  // From the first `key:` line with a block below it: a mapping (the indent) and a sequence.
  for (let i = 0; i + 1 < lines.length && (indent === undefined || indentSeq === undefined); i++) {
    const [here, below] = [lines[i]!, lines[i + 1]!];
    if (!/:\s*(#.*)?$/.test(here)) continue;
    const step = column(below) - column(here);
    if (below.trimStart().startsWith('- ')) indentSeq ??= step > 0;
    else if (step > 0 && step <= 8) indent ??= step;
  }
  return {
    indent: indent ?? 2,
    indentSeq: indentSeq ?? true,
    // `{ a: 1 }` rather than `{a: 1}` (one setting for both kinds of flow collection).
    flowCollectionPadding: /[[{] +[^\s\]}]/.test(text) || !/[[{][^\s\]}]/.test(text),
  };
}

/** The edited text reads back as `expected`, each managed route's destinations in any order. */
function sameRules(text: string, expected: unknown, indexes: readonly number[]): boolean {
  const canonical = (x: unknown) => {
    const doc = JSON.parse(JSON.stringify(x)) as { routes: { to: { subset: string }[] }[] };
    for (const i of indexes) doc.routes[i]!.to.sort((a, b) => (a.subset < b.subset ? -1 : 1));
    return doc;
  };
  try {
    return isDeepStrictEqual(canonical(parseRuleDocument(text)), canonical(expected));
  } catch {
    return false;
  }
}
