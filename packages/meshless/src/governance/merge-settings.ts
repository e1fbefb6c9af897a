import { ownValue } from '@meshless/core';
import type { MethodPolicies, PoliciesRule } from '../rules/policies.ts';

/**
 * What a GovernedPolicy governs. `resource`: a decorated method (or any local work), whose rules
 * live at `resources/<name>`; the name is the decorator's, e.g. `catalog.getItem`. `service`: a
 * remote call to `<service>`, whose rules live at `services/<service>/policies`, with
 * `methods.<method>` overriding them for one operation.
 */
export type GovernedResource =
  | { readonly kind: 'resource'; readonly name: string }
  | { readonly kind: 'service'; readonly service: string; readonly method?: string | undefined };

/** The name errors and events carry: `catalog.getItem`, `catalog`, `catalog/getItem`. */
export function resourceLabel(resource: GovernedResource): string {
  if (resource.kind === 'resource') return resource.name;
  return resource.method === undefined ? resource.service : `${resource.service}/${resource.method}`;
}

/** The documents a resource's settings come from, as the RuleStore holds them. */
export interface PolicyDocuments {
  /** `defaults/policies`. */
  readonly defaults: PoliciesRule | undefined;
  /** `resources/<name>` or `services/<service>/policies`. */
  readonly document: PoliciesRule | undefined;
}

/**
 * The layers of a resource's settings, lowest precedence first: code values, `defaults/policies`,
 * the resource's (or service's) document, and for a service method its `methods.<method>` entry.
 * `methods` is read only from a service document: in `defaults/policies` and `resources/<name>`
 * it is ignored (a resource is already one method).
 */
export function settingsLayers(
  resource: GovernedResource,
  code: MethodPolicies,
  docs: PolicyDocuments,
): (MethodPolicies | undefined)[] {
  const method =
    resource.kind === 'service' && resource.method !== undefined
      ? ownValue(docs.document?.methods, resource.method)
      : undefined;
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
