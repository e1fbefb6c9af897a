import { ownValue } from '@meshless/core';
import type { MethodPolicies, PoliciesRule } from '../rules/policies.ts';

/**
 * What a GovernedPolicy governs: a decorated method (or any local work), whose rules live at
 * `resources/<name>`; the name is the decorator's, e.g. `catalog.getItem`. (Remote calls are
 * governed by their client, from `services/<svc>/policies`.)
 */
export interface GovernedResource {
  readonly kind: 'resource';
  readonly name: string;
}

/** The name errors and events carry: `catalog.getItem`. */
export function resourceLabel(resource: GovernedResource): string {
  return resource.name;
}

/** The documents a resource's settings come from, as the RuleStore holds them. */
export interface PolicyDocuments {
  /** `defaults/policies`. */
  readonly defaults: PoliciesRule | undefined;
  /** `resources/<name>` or `services/<svc>/policies`. */
  readonly document: PoliciesRule | undefined;
}

/**
 * The layers of one settings merge, lowest precedence first: code values, `defaults/policies`,
 * the resource's (or service's) document, and for an operation of a service its
 * `methods.<operation>` entry. `methods` is read only from a service document (pass `operation`
 * for those only): in `defaults/policies` and `resources/<name>` it is ignored.
 */
export function settingsLayers(
  code: MethodPolicies,
  docs: PolicyDocuments,
  operation?: string,
): (MethodPolicies | undefined)[] {
  const method = operation ? ownValue(docs.document?.methods, operation) : undefined;
  return [code, withoutMethods(docs.defaults), withoutMethods(docs.document), method];
}

function withoutMethods(doc: PoliciesRule | undefined): MethodPolicies | undefined {
  if (doc === undefined || doc.methods === undefined) return doc;
  const { methods: _ignored, ...rest } = doc;
  return rest;
}

/**
 * Merges layers field by field, later layers winning: nested objects (`retry.backoff`,
 * `breaker`, ...) merge key by key, arrays (`retry.on`) and values replace. The result is new
 * and frozen; the inputs are not touched.
 */
export function mergeSettings(layers: readonly (object | undefined)[]): MethodPolicies {
  let out: Record<string, unknown> = {};
  for (const layer of layers) if (layer !== undefined) out = mergeInto(out, layer as Record<string, unknown>);
  return deepFreeze(out) as MethodPolicies;
}

function mergeInto(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(value) && isPlainObject(prev) ? mergeInto(prev, value) : copy(value);
  }
  return out;
}

function copy(value: unknown): unknown {
  if (Array.isArray(value)) return [...value];
  if (isPlainObject(value)) return mergeInto({}, value);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Whether two settings objects say the same (key order aside). */
export function sameSettings(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameSettings(v, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameSettings(a[k], b[k]));
}
