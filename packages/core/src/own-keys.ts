import { z } from 'zod';

/**
 * `record[key]` for a key that comes from input (a header name, an operation name, endpoint
 * meta): own properties only, so `constructor` or `toString` never finds Object.prototype's.
 */
export function ownValue<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** An empty object without a prototype, for maps keyed by input (any key is an own key, `__proto__` too). */
export function nullRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/**
 * `z.record` for rule documents: the parsed map has no prototype, so a lookup of any name
 * (`constructor`, `toString`) finds only what the operator wrote.
 */
export function ruleRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(keys: K, values: V) {
  return z
    .record(keys, values)
    .transform((map) => Object.assign(nullRecord(), map) as Record<z.output<K> & PropertyKey, z.output<V>>);
}
