import { BreakerRegistry, type BreakerRule, type BreakerStatus } from '@meshless/breaker';
import {
  type Clock,
  ClosedError,
  ConfigError,
  type Disposable,
  Emitter,
  type Event,
  type Logger,
  noopLogger,
  type Random,
  type RuleChange,
  type RuleStore,
  systemClock,
  systemRandom,
} from '@meshless/core';
import { defaultsSection, resourceSection } from '../rules/policies.ts';
import { type CodePolicies, validateCodePolicies } from './code-policies.ts';
import type { BreakerLease, CallInstrument, GovernorHost } from './governance-ports.ts';
import { GovernedPolicy } from './governed-policy.ts';
import { type GovernedResource, resourceLabel } from './merge-settings.ts';

export interface GovernorOptions {
  /** The rules in force (`mesh.rules`). */
  rules: RuleStore;
  clock?: Clock;
  /** Draws retry backoff jitter. Default Math.random. */
  random?: Random;
  logger?: Logger;
  /** Wraps each decorated call, e.g. in a span and a metrics timer. */
  instrument?: CallInstrument;
  /** The mesh's one breaker registry (resources by name, remote endpoints by service and id). Default: the governor's own. */
  breakers?: BreakerRegistry;
}

export interface GovernedBreakerStatus extends BreakerStatus {
  readonly kind: GovernedResource['kind'];
}

/**
 * Turns rules into policies. `policy(resource, codeDefaults)` returns the resource's
 * GovernedPolicy; the Governor watches the rule store and rebuilds a handle when one of its
 * documents (`defaults/policies`, and `resources/<name>` or `services/<svc>/policies`) comes,
 * changes or goes. Precedence, field by field: method override > the resource's or service's
 * document > `defaults/policies` > code values > each policy's built-in defaults.
 *
 * Breakers live in the mesh's registry, by resource name (remote endpoints are there too, by
 * service and endpoint id), so two handles for one name share one breaker (and the last rule
 * applied to it).
 */
export class Governor implements Disposable {
  readonly rules: RuleStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly registry: BreakerRegistry;
  private readonly ownsRegistry: boolean;
  private readonly leases = new Map<string, number>();
  /** Handles by the resource whose document (`resources/<name>`) they follow. */
  private readonly byDocument = new Map<string, Set<GovernedPolicy>>();
  private readonly subscription: Disposable;
  private disposed = false;
  private readonly host: GovernorHost;
  private readonly followEmitter = new Emitter<string>();
  /** A handle began to follow a document nothing followed before (`resource:<name>`). */
  readonly onDidFollow: Event<string> = this.followEmitter.event;

  constructor(options: GovernorOptions) {
    this.rules = options.rules;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.logger = options.logger ?? noopLogger;
    this.ownsRegistry = options.breakers === undefined;
    this.registry = options.breakers ?? new BreakerRegistry({ clock: this.clock });
    this.host = {
      rules: this.rules,
      clock: this.clock,
      random: this.random,
      logger: this.logger,
      breakers: this.lease(),
      onDidChangeBreakerState: this.registry.onDidChangeState,
      forget: (handle) => this.forget(handle),
      instrument: options.instrument,
    };
    this.subscription = this.rules.onDidChange(this.onRuleChange);
  }

  /**
   * The policies for `resource`, with `codeDefaults` under every rule. Throws ConfigError
   * (with the field path) for bad code values or a bad resource name, ClosedError after dispose.
   * Each call returns a new handle; keep it (decorators make one per method).
   */
  policy(resource: GovernedResource, codeDefaults?: CodePolicies): GovernedPolicy {
    if (this.disposed) throw new ClosedError('governor is disposed');
    checkResource(resource);
    const code = validateCodePolicies(codeDefaults, resourceLabel(resource));
    const handle = new GovernedPolicy(this.host, resource, code);
    const key = documentKey(resource);
    let handles = this.byDocument.get(key);
    if (!handles) {
      handles = new Set();
      this.byDocument.set(key, handles);
      this.followEmitter.fire(key);
    }
    handles.add(handle);
    return handle;
  }

  /** The documents some handle follows: `resources/<name>`, by name. */
  followed(): { resources: string[] } {
    return { resources: [...this.byDocument.keys()].map((key) => key.slice('resource:'.length)) };
  }

  /** Every resource breaker's state (moves due open breakers to half-open), for status pages. */
  breakerStatus(): GovernedBreakerStatus[] {
    const out: GovernedBreakerStatus[] = [];
    for (const s of this.registry.snapshot()) {
      if (s.endpointId === undefined && this.leases.has(s.resource)) out.push({ ...s, kind: 'resource' });
    }
    return out;
  }

  /** Disposes every handle and breaker and stops watching the rules. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscription.dispose();
    this.followEmitter.dispose();
    for (const handles of [...this.byDocument.values()]) for (const h of [...handles]) h.dispose();
    this.byDocument.clear();
    if (this.ownsRegistry) this.registry.dispose();
  }

  private readonly onRuleChange = (change: RuleChange): void => {
    if (change.section === defaultsSection) {
      for (const handles of this.byDocument.values()) for (const h of handles) h.rebuild();
      return;
    }
    if (change.section !== resourceSection) return;
    const handles = this.byDocument.get(`resource:${change.name}`);
    if (handles) for (const h of handles) h.rebuild();
  };

  private lease(): BreakerLease {
    const registry = this.registry;
    return {
      acquire: (label: string, rule: BreakerRule) => {
        registry.configure(label, rule);
        this.leases.set(label, (this.leases.get(label) ?? 0) + 1);
        return registry.get(label);
      },
      configure: (label: string, rule: BreakerRule) => registry.configure(label, rule),
      release: (label: string) => {
        const n = (this.leases.get(label) ?? 1) - 1;
        if (n > 0) {
          this.leases.set(label, n);
          return;
        }
        // Nobody uses it any more: a breaker that comes back later starts closed and clean.
        this.leases.delete(label);
        if (!this.disposed) {
          registry.remove(label);
          registry.configure(label, undefined);
        }
      },
    };
  }

  private forget(handle: GovernedPolicy): void {
    const key = documentKey(handle.resource);
    const handles = this.byDocument.get(key);
    if (!handles) return;
    handles.delete(handle);
    if (handles.size === 0) this.byDocument.delete(key);
  }
}

function documentKey(resource: GovernedResource): string {
  return `resource:${resource.name}`;
}

/** A name becomes one KV key segment (`resources/<name>`), so it must be one. */
function checkResource(resource: GovernedResource): void {
  const segment = (value: unknown, path: string) => {
    if (typeof value !== 'string' || value === '' || value.includes('/')) {
      throw new ConfigError(`${path}: expected a non-empty name without '/'`, { path });
    }
  };
  if (resource.kind !== 'resource') throw new ConfigError("kind: expected 'resource'", { path: 'kind' });
  segment(resource.name, 'name');
}
