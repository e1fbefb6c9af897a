import type { Logger, Random } from '@meshless/core';
import type { EndpointStatsStore } from './endpoint-stats.ts';
import { LeastRequestBalancer } from './least-request.ts';
import { MaglevBalancer } from './maglev.ts';
import { PeakEwmaBalancer } from './p2c-peak-ewma.ts';
import { RandomBalancer } from './random.ts';
import { RingHashBalancer } from './ring-hash.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.ts';

/** What an algorithm is built with: the shared stats, time and randomness, and its rule's settings. */
export interface AlgorithmDeps {
  readonly stats: EndpointStatsStore;
  readonly now: () => number;
  readonly random: Random;
  /** Where background failures are reported (a hash table build that failed). */
  readonly logger?: Logger;
  /** The resolved rule's settings for the hash algorithms (filled with defaults). */
  readonly ringHash: { readonly minRingSize: number; readonly maxRingSize: number };
  readonly maglev: { readonly tableSize: number };
}

/** One picking algorithm, by name. */
export interface BalancerAlgorithmEntry {
  /** Builds the algorithm's balancer over the shared stats (once per rule or locality group). */
  readonly create: (deps: AlgorithmDeps) => StatefulBalancer;
  /** Keyed by `hashOn` (ring-hash, maglev): the rule must name a hash key; no slow start. */
  readonly hashed: boolean;
}

const base = (d: AlgorithmDeps) => ({ stats: d.stats, now: d.now, random: d.random, logger: d.logger });

// The built-ins, in the order the schema lists them. Typed as a literal so that the names
// stay a union type (BalancerAlgorithm) for code that writes a rule.
const BUILT_IN = {
  'round-robin': { create: (d) => new RoundRobinBalancer(base(d)), hashed: false },
  'weighted-round-robin': { create: (d) => new WeightedRoundRobinBalancer(base(d)), hashed: false },
  random: { create: (d) => new RandomBalancer(base(d)), hashed: false },
  'least-request': { create: (d) => new LeastRequestBalancer(base(d)), hashed: false },
  'p2c-peak-ewma': { create: (d) => new PeakEwmaBalancer(base(d)), hashed: false },
  'ring-hash': { create: (d) => new RingHashBalancer({ ...base(d), ...d.ringHash }), hashed: true },
  maglev: { create: (d) => new MaglevBalancer({ ...base(d), ...d.maglev }), hashed: true },
} as const satisfies Record<string, BalancerAlgorithmEntry>;

/** The names of the built-in algorithms. */
export type BuiltInAlgorithm = keyof typeof BUILT_IN;

// A Map, not an object: a name from a document ('__proto__', 'constructor') finds nothing.
const registry = new Map<string, BalancerAlgorithmEntry>();

/**
 * Adds an algorithm under `name`. The built-ins register here at load; a name registered twice
 * is an error (an algorithm is never silently replaced).
 */
export function registerBalancerAlgorithm(name: string, entry: BalancerAlgorithmEntry): void {
  if (registry.has(name)) throw new Error(`balancer algorithm "${name}" is already registered`);
  registry.set(name, Object.freeze({ ...entry }));
}

for (const [name, entry] of Object.entries(BUILT_IN)) registerBalancerAlgorithm(name, entry);

/** The algorithm registered under `name`, if any. */
export function balancerAlgorithm(name: string): BalancerAlgorithmEntry | undefined {
  return registry.get(name);
}

/** The names registered at load (the built-ins, in order): what the rule schema accepts. */
export const BUILT_IN_ALGORITHMS = Object.freeze(Object.keys(BUILT_IN)) as readonly BuiltInAlgorithm[];
