import type { CircuitStateChange } from '@meshless/breaker';
import {
  ConfigError,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  noopPolicy,
  type Policy,
} from '@meshless/core';
import { FallbackPolicy } from '@meshless/limiter';
import { currentDeadline, DeadlinePolicy } from '@meshless/retry';
import { defaultsSection, type MethodPolicies, resourceSection } from '../rules/policies.ts';
import { type CodeExtras, parseMethodPolicies, type ValidatedCodePolicies } from './code-policies.ts';
import type { GovernorHost } from './governance-ports.ts';
import {
  type GovernedResource,
  mergeSettings,
  resourceLabel,
  sameSettings,
  settingsLayers,
} from './merge-settings.ts';
import { type LayerKind, PolicySet } from './policy-set.ts';

/** The settings of a resource changed (a rule came, changed or went), and the stack with them. */
export interface GovernedChange {
  readonly resource: string;
  readonly settings: MethodPolicies;
  readonly previous: MethodPolicies;
  /** The stack now, outermost first. */
  readonly layers: readonly LayerKind[];
}

type Work<T> = (ctx: ExecuteContext) => PromiseLike<T> | T;

/**
 * The policies of one resource, as rules and code say now. A Policy: `execute(fn, signal)` runs
 * work through the stack (fallback, rate limit, bulkhead, retry / hedge, breaker, timeout,
 * outermost first; only the policies whose settings are present). Rebuilt by the Governor
 * when one of its documents changes, never per call; calls in flight finish on the stack they
 * started on.
 */
export class GovernedPolicy implements Policy, Disposable {
  readonly resource: GovernedResource;
  /** The name in errors and events: `catalog.getItem`, `catalog`, `catalog/getItem`. */
  readonly name: string;
  private readonly host: GovernorHost;
  private readonly code: MethodPolicies;
  private readonly set: PolicySet;
  /** Whether execute() may repeat the work. */
  private readonly repeatable: boolean;
  private current: MethodPolicies;
  private stack: Policy = noopPolicy;
  private kinds: readonly LayerKind[] = [];
  private disposed = false;
  private readonly changed = new Emitter<GovernedChange>();
  private readonly rejected = new Emitter<ConfigError>();

  /** The settings changed and the stack was rebuilt. */
  readonly onDidChange: Event<GovernedChange> = this.changed.event;
  /**
   * The rules combined into invalid settings (e.g. `backoff.maxMs` from one document below
   * `baseMs` from another); the last good settings stay in force.
   */
  readonly onDidReject: Event<ConfigError> = this.rejected.event;

  /** @internal Made by Governor.policy(). */
  constructor(host: GovernorHost, resource: GovernedResource, code: ValidatedCodePolicies) {
    this.host = host;
    this.resource = resource;
    this.name = resourceLabel(resource);
    this.code = code.rules;
    this.repeatable = repeatableByCode(code);
    this.set = new PolicySet({
      label: this.name,
      scope: 'local',
      clock: host.clock,
      random: host.random,
      breakers: host.breakers,
      fallback: makeFallback(this.name, code.extras),
    });
    let initial: MethodPolicies;
    try {
      initial = this.resolve();
    } catch (error) {
      // The rules make the settings invalid; start from the code values (valid), as a rebuild would keep them.
      this.report(error);
      initial = mergeSettings([this.code]);
    }
    this.set.apply(initial);
    this.current = initial;
    this.compose();
  }

  /** The merged settings in force (rule fields only; absent fields take each policy's defaults). Frozen. */
  get settings(): MethodPolicies {
    return this.current;
  }

  /** The stack execute() runs, outermost first. */
  get layers(): readonly LayerKind[] {
    return this.kinds;
  }

  /** The policy instances in force, to subscribe to their events (onDidTimeout, onRetry, ...). */
  get policies(): Readonly<Pick<PolicySet, LayerKind>> {
    const s = this.set;
    return {
      fallback: s.fallback,
      rateLimit: s.rateLimit,
      bulkhead: s.bulkhead,
      retry: s.retry,
      hedge: s.hedge,
      breaker: s.breaker,
      timeout: s.timeout,
    };
  }

  /** State changes of this resource's breaker. */
  get onDidChangeState(): Event<CircuitStateChange> {
    const source = this.host.onDidChangeBreakerState;
    return (listener) =>
      source((change) => {
        if (change.resource === this.name && change.endpointId === undefined) listener(change);
      });
  }

  /**
   * Runs `fn` through the stack. A decorated resource is repeated only when idempotent (see
   * CodePolicies.idempotent).
   */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    return this.stack.execute(fn, signal);
  }

  /** Runs `target.apply(self, args)` through the stack (what a decorated method does). */
  call<T>(target: (...args: never[]) => PromiseLike<T> | T, self: unknown, args: unknown[]): Promise<T> {
    const instrument = this.host.instrument;
    if (instrument) return instrument.call(this.name, () => this.callBare(target, self, args));
    return this.callBare(target, self, args);
  }

  private callBare<T>(
    target: (...args: never[]) => PromiseLike<T> | T,
    self: unknown,
    args: unknown[],
  ): Promise<T> {
    // Inside a caller's deadline (a served request), the method never outlives it.
    if (currentDeadline() !== undefined) {
      this.deadline ??= new DeadlinePolicy({ resource: this.name, clock: this.host.clock });
      return this.deadline.execute(() => this.callStack(target, self, args));
    }
    return this.callStack(target, self, args);
  }

  /** Enforces an inherited deadline; made on the first call that has one. */
  private deadline: DeadlinePolicy | undefined;

  private callStack<T>(
    target: (...args: never[]) => PromiseLike<T> | T,
    self: unknown,
    args: unknown[],
  ): Promise<T> {
    const stack = this.stack;
    if (stack === noopPolicy) {
      try {
        return Promise.resolve((target as (...a: unknown[]) => PromiseLike<T> | T).apply(self, args));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return stack.execute(() => (target as (...a: unknown[]) => PromiseLike<T> | T).apply(self, args));
  }

  /** @internal Re-reads the documents and applies what changed. Never throws. */
  rebuild(): void {
    if (this.disposed) return;
    let next: MethodPolicies;
    try {
      next = this.resolve();
    } catch (error) {
      this.report(error);
      return;
    }
    if (sameSettings(next, this.current)) return;
    try {
      this.set.apply(next);
    } catch (error) {
      // Not expected (the settings were validated as a whole); keep serving on the old stack.
      this.host.logger.error('governed policy rebuild failed', { resource: this.name, error });
      return;
    }
    const previous = this.current;
    this.current = next;
    this.compose();
    this.host.logger.info('policies applied', { resource: this.name, layers: this.kinds.join(',') });
    if (this.changed.hasListeners) {
      this.changed.fire({ resource: this.name, settings: next, previous, layers: this.kinds });
    }
  }

  /** Stops its timers and leaves the Governor; later calls run without policies. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host.forget(this);
    this.set.dispose();
    this.stack = noopPolicy;
    this.kinds = [];
    this.changed.dispose();
    this.rejected.dispose();
  }

  private resolve(): MethodPolicies {
    const rules = this.host.rules;
    const r = this.resource;
    const layers = settingsLayers(this.code, {
      defaults: rules.get(defaultsSection),
      document: rules.get(resourceSection, r.name),
    });
    // Each document is valid alone; their merge may not be (cross-field checks), so check it.
    return mergeSettings([parseMethodPolicies(mergeSettings(layers), this.name)]);
  }

  private compose(): void {
    this.stack = this.repeatable ? this.set.full : this.set.once;
    this.kinds = Object.freeze(this.set.layers(this.repeatable).kinds);
  }

  private report(error: unknown): void {
    const configError =
      error instanceof ConfigError
        ? error
        : new ConfigError(`${this.name}: ${String((error as Error)?.message ?? error)}`, { cause: error });
    this.host.logger.warn('policies rejected; last good settings stay in force', {
      resource: this.name,
      path: configError.path || undefined,
      message: configError.message,
    });
    if (this.rejected.hasListeners) this.rejected.fire(configError);
  }
}

function repeatableByCode(code: ValidatedCodePolicies): boolean {
  return code.extras.idempotent ?? (code.rules.retry !== undefined || code.rules.hedge !== undefined);
}

function makeFallback(label: string, extras: CodeExtras): FallbackPolicy | undefined {
  if (extras.fallback === undefined) return undefined;
  return new FallbackPolicy({ fallback: extras.fallback.value, on: extras.fallbackOn, resource: label });
}
