import { type Clock, ClosedError, type Disposable, Emitter, type Event, systemClock } from '@meshless/core';
import { type BreakerRule, type BreakerSettings, resolveBreakerSettings } from './breaker-rule.ts';
import {
  CircuitBreakerPolicy,
  type CircuitState,
  type CircuitStateChange,
  type SharedBreakerParts,
} from './circuit-breaker-policy.ts';
import { BucketRotation } from './opossum-adapter.ts';

export interface BreakerRegistryOptions {
  clock?: Clock;
  /** The rule under every resource's own rule (fleet defaults). Default: the built-in defaults. */
  defaults?: BreakerRule;
  /**
   * Bucket width of the one shared window rotation, ms; windows are rounded to whole buckets
   * (at least one). Default 1000, which splits the default 10 s window into ten buckets.
   */
  bucketMs?: number;
  /** See CircuitBreakerOptions.isFailure. */
  isFailure?: (error: unknown) => boolean;
}

export interface BreakerStatus {
  readonly resource: string;
  readonly endpointId: string | undefined;
  readonly state: CircuitState;
}

interface ResourceEntry {
  rule: BreakerRule | undefined;
  parts: SharedBreakerParts;
  /** The breaker for the resource as a whole (a decorated method, or a service without endpoints). */
  whole: CircuitBreakerPolicy | undefined;
  endpoints: Map<string, CircuitBreakerPolicy> | undefined;
}

/**
 * Breakers keyed by resource and, for remote calls, by endpoint id; created on first `get`.
 * All of them share one window rotation, so the registry runs one timer however many breakers
 * it holds, and only while it holds any. Breakers of one resource share one settings object.
 */
export class BreakerRegistry implements Disposable {
  private readonly clock: Clock;
  private readonly rotation: BucketRotation;
  private readonly isFailure: ((error: unknown) => boolean) | undefined;
  private readonly resources = new Map<string, ResourceEntry>();
  private readonly emitter = new Emitter<CircuitStateChange>();
  private defaultsRule: BreakerRule;
  private defaults: BreakerSettings;
  private count = 0;
  private disposed = false;

  /** State changes of every breaker in the registry. */
  readonly onDidChangeState: Event<CircuitStateChange> = this.emitter.event;

  constructor(options: BreakerRegistryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.rotation = new BucketRotation({ clock: this.clock, bucketMs: options.bucketMs ?? 1000 });
    this.isFailure = options.isFailure;
    this.defaultsRule = options.defaults ?? {};
    this.defaults = resolveBreakerSettings(this.defaultsRule);
  }

  /** Breakers held now. */
  get size(): number {
    return this.count;
  }

  /** The breaker for `resource` (and `endpointId`), created on first use. */
  get(resource: string, endpointId?: string): CircuitBreakerPolicy {
    const entry = this.resources.get(resource) ?? this.addResource(resource);
    if (endpointId === undefined) {
      entry.whole ??= this.create(resource, undefined, entry);
      return entry.whole;
    }
    entry.endpoints ??= new Map();
    const endpoints = entry.endpoints;
    let breaker = endpoints.get(endpointId);
    if (!breaker) {
      breaker = this.create(resource, endpointId, entry);
      endpoints.set(endpointId, breaker);
    }
    return breaker;
  }

  /** The breaker if it exists; never creates one. */
  peek(resource: string, endpointId?: string): CircuitBreakerPolicy | undefined {
    const entry = this.resources.get(resource);
    if (!entry) return undefined;
    return endpointId === undefined ? entry.whole : entry.endpoints?.get(endpointId);
  }

  /**
   * Sets the rule of a resource (laid over the registry defaults) and applies it live to its
   * breakers: open ones stay open. `undefined` reverts to the defaults. Throws ConfigError on a
   * bad rule and then changes nothing.
   */
  configure(resource: string, rule: BreakerRule | undefined): void {
    const settings = rule ? resolveBreakerSettings({ ...this.defaultsRule, ...rule }) : this.defaults;
    const entry = this.resources.get(resource) ?? this.addResource(resource);
    entry.rule = rule;
    this.applyTo(entry, settings);
  }

  /** Replaces the defaults; resources with their own rule get it laid over the new defaults. */
  setDefaults(rule: BreakerRule | undefined): void {
    const defaultsRule = rule ?? {};
    const defaults = resolveBreakerSettings(defaultsRule);
    // Validate every resource's merged rule first, so a bad combination changes nothing.
    const merged = new Map<ResourceEntry, BreakerSettings>();
    for (const entry of this.resources.values()) {
      merged.set(entry, entry.rule ? resolveBreakerSettings({ ...defaultsRule, ...entry.rule }) : defaults);
    }
    this.defaultsRule = defaultsRule;
    this.defaults = defaults;
    for (const [entry, settings] of merged) this.applyTo(entry, settings);
  }

  /** Removes and disposes one breaker (the one `get` with the same arguments returns). */
  remove(resource: string, endpointId?: string): boolean {
    const entry = this.resources.get(resource);
    if (!entry) return false;
    let breaker: CircuitBreakerPolicy | undefined;
    if (endpointId === undefined) {
      breaker = entry.whole;
      entry.whole = undefined;
    } else {
      breaker = entry.endpoints?.get(endpointId);
      entry.endpoints?.delete(endpointId);
    }
    if (!breaker) return false;
    this.count--;
    breaker.dispose();
    return true;
  }

  /** Removes the endpoint breakers of `resource` whose ids are not in `endpointIds` (endpoints gone). */
  retain(resource: string, endpointIds: ReadonlySet<string>): number {
    const endpoints = this.resources.get(resource)?.endpoints;
    if (!endpoints) return 0;
    let removed = 0;
    for (const [id, breaker] of endpoints) {
      if (endpointIds.has(id)) continue;
      endpoints.delete(id);
      breaker.dispose();
      removed++;
    }
    this.count -= removed;
    return removed;
  }

  /** Every breaker's state, for status pages. Moves due open breakers to half-open. */
  snapshot(): BreakerStatus[] {
    const out: BreakerStatus[] = [];
    for (const [resource, entry] of this.resources) {
      if (entry.whole) out.push({ resource, endpointId: undefined, state: entry.whole.state });
      if (entry.endpoints) {
        for (const [endpointId, b] of entry.endpoints) out.push({ resource, endpointId, state: b.state });
      }
    }
    return out;
  }

  /** Disposes every breaker and stops the shared timer. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const entry of this.resources.values()) {
      entry.whole?.dispose();
      if (entry.endpoints) for (const b of entry.endpoints.values()) b.dispose();
    }
    this.resources.clear();
    this.count = 0;
    this.rotation.dispose();
    this.emitter.dispose();
  }

  private addResource(resource: string): ResourceEntry {
    if (this.disposed) throw new ClosedError('breaker registry is disposed');
    const entry: ResourceEntry = {
      rule: undefined,
      parts: { settings: this.defaults, onStateChange: this.fireChange },
      whole: undefined,
      endpoints: undefined,
    };
    this.resources.set(resource, entry);
    return entry;
  }

  private create(
    resource: string,
    endpointId: string | undefined,
    entry: ResourceEntry,
  ): CircuitBreakerPolicy {
    if (this.disposed) throw new ClosedError('breaker registry is disposed');
    this.count++;
    return new CircuitBreakerPolicy(
      { resource, endpointId, clock: this.clock, rotation: this.rotation, isFailure: this.isFailure },
      entry.parts,
    );
  }

  private applyTo(entry: ResourceEntry, settings: BreakerSettings): void {
    entry.parts = { settings, onStateChange: this.fireChange };
    entry.whole?.applySettings(settings);
    if (entry.endpoints) for (const b of entry.endpoints.values()) b.applySettings(settings);
  }

  private readonly fireChange = (change: CircuitStateChange): void => {
    this.emitter.fire(change);
  };
}
