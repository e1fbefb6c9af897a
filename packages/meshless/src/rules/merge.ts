import type { MethodPolicies } from './policies.ts';

/**
 * Merges policy documents, later ones winning, field by field: nested objects (retry, backoff,
 * budget, breaker, ...) merge deeply; arrays and scalars replace. Undefined layers are skipped.
 * Order of precedence in meshless: code defaults < defaults/policies < service or resource < method.
 */
export function mergePolicies(...layers: (MethodPolicies | undefined)[]): MethodPolicies {
  let out: Record<string, unknown> = {};
  for (const layer of layers) if (layer) out = mergeObjects(out, layer as Record<string, unknown>);
  return out as MethodPolicies;
}

function mergeObjects(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeObjects(prev, value) : value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
