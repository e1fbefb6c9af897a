import type { z } from 'zod';

/** Longest name we compare: edit distance is quadratic, and a typo is short. */
const MAX_NAME = 64;

interface Def {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  valueType?: unknown;
  element?: unknown;
  options?: readonly unknown[];
  left?: unknown;
  right?: unknown;
  getter?: () => unknown;
}

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** The object schemas a value at `path` may be checked against (unions give several). */
function objectsAt(schema: unknown, path: readonly PropertyKey[], depth = 0): Def[] {
  const def = defOf(schema);
  if (!def || depth > 64) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return objectsAt(def.innerType, path, depth + 1);
    case 'pipe':
      return objectsAt(def.in, path, depth + 1);
    case 'lazy':
      return def.getter ? objectsAt(def.getter(), path, depth + 1) : [];
    case 'union':
      return (def.options ?? []).flatMap((o) => objectsAt(o, path, depth + 1));
    case 'intersection':
      return [...objectsAt(def.left, path, depth + 1), ...objectsAt(def.right, path, depth + 1)];
    default:
      break;
  }
  if (path.length === 0) return def.type === 'object' ? [def] : [];
  const [head, ...rest] = path;
  if (def.type === 'object' && def.shape && typeof head === 'string' && Object.hasOwn(def.shape, head))
    return objectsAt(def.shape[head], rest, depth + 1);
  if (def.type === 'record') return objectsAt(def.valueType, rest, depth + 1);
  if (def.type === 'array' && typeof head === 'number') return objectsAt(def.element, rest, depth + 1);
  return [];
}

/** Edit distance with transpositions (`nmae` -> `name` is one edit), or Infinity past `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return Number.POSITIVE_INFINITY;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, before[j - 2]! + 1);
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return Number.POSITIVE_INFINITY;
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `word` (case-insensitive edit distance with transpositions), or
 * undefined when none is close: at most 2 edits, and fewer than half the word's length.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length === 0 || word.length > MAX_NAME) return undefined;
  const lower = word.toLowerCase();
  const max = Math.min(2, Math.floor((word.length - 1) / 2));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of candidates) {
    if (name.length > MAX_NAME) continue;
    const d = name.toLowerCase() === lower ? 0.5 : distance(lower, name.toLowerCase(), max);
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return bestDistance <= max || bestDistance === 0.5 ? best : undefined;
}

/**
 * The known field nearest to an unknown one at `path` in `schema` (`brust` -> `burst`), or
 * undefined when none is close: at most 2 edits, and fewer than half the name's length. Case
 * differences count as close (`timeoutMS` -> `timeoutMs`).
 */
export function suggestField(
  schema: z.ZodType,
  path: readonly PropertyKey[],
  unknown: string,
): string | undefined {
  const known = new Set<string>();
  for (const def of objectsAt(schema, path)) for (const name of Object.keys(def.shape ?? {})) known.add(name);
  return nearest(unknown, known);
}

/** An `unrecognized_keys` issue worded for an operator, with a suggestion where one is close. */
export function unknownFieldMessage(
  schema: z.ZodType,
  path: readonly PropertyKey[],
  keys: readonly string[],
): string {
  // A few named, the rest counted: a hostile document may carry thousands.
  const named = keys.slice(0, MAX_NAMED).map((k) => {
    const near = suggestField(schema, path, k);
    const shown = k.length > MAX_NAME ? `${k.slice(0, MAX_NAME)}...` : k;
    return `unknown field ${JSON.stringify(shown)}${near ? ` (did you mean "${near}"?)` : ''}`;
  });
  const more = keys.length - named.length;
  return named.join('; ') + (more > 0 ? ` (and ${more} more unknown fields)` : '');
}

const MAX_NAMED = 3;
