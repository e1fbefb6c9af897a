import type { Balancer, CallOutcome, Endpoint, Logger, PickContext, Picker, Random } from '@meshless/core';
import { noopLogger, systemRandom } from '@meshless/core';
import { EndpointStatsStore } from './endpoint-stats.ts';

/** Injected time, randomness and (optionally) a stats store adopted from another balancer. */
export interface BalancerDeps {
  /** Monotonic milliseconds. Default: the store's clock (`systemClock.now`). */
  now?: () => number;
  /** Default: `Math.random`. */
  random?: Random;
  /** Share or adopt per-endpoint stats (pending, EWMA, errors, ejections, first-seen). */
  stats?: EndpointStatsStore;
  /** Where a failed background build of a hash table is reported. Default: nowhere. */
  logger?: Logger;
}

/**
 * A picker being built off the main thread (see LeafBalancer.buildLater): its result, a way to
 * drop it, and the ids of the current picker's endpoints that the new membership no longer has.
 */
export interface BackgroundBuild {
  readonly result: Promise<Picker>;
  cancel(): void;
  readonly departed: ReadonlySet<string>;
}

/**
 * A Balancer of this package: it exposes the stats store it shares with the layers around it,
 * and `rebuild()`, which builds a picker over a given list without changing the known
 * membership (wrappers pass filtered lists down through it).
 */
export interface StatefulBalancer extends Balancer {
  readonly stats: EndpointStatsStore;
  rebuild(endpoints: readonly Endpoint[]): void;
  /** True when it reads ejection state itself and wants ejected endpoints passed in. */
  readonly healthAware?: boolean;
}

export const emptyPicker: Picker = { pick: () => undefined };

/**
 * Base of the algorithm balancers: stats bookkeeping, and a picker built on each change, in
 * place, or (when `buildLater` says so: large hash tables) in the background while an interim
 * picker serves.
 */
export abstract class LeafBalancer implements StatefulBalancer {
  readonly stats: EndpointStatsStore;
  protected readonly now: () => number;
  protected readonly random: Random;
  protected readonly logger: Logger;
  private current: Picker = emptyPicker;
  /** The last picker built in full (what a background build starts from). */
  private built: Picker = emptyPicker;
  private pending: { readonly build: BackgroundBuild; readonly interim: InterimPicker } | undefined;
  private settledWaiters: (() => void)[] = [];

  constructor(deps: BalancerDeps = {}) {
    this.stats = deps.stats ?? new EndpointStatsStore({ now: deps.now });
    this.now = deps.now ?? this.stats.now;
    this.random = deps.random ?? systemRandom;
    this.logger = deps.logger ?? noopLogger;
  }

  get picker(): Picker {
    return this.current;
  }

  /** The last picker built in full (never an interim one): the base of the next build. */
  protected get lastBuilt(): Picker {
    return this.built;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    // Last update wins: a build still running for an older membership is dropped.
    const previous = this.pending;
    this.pending = undefined;
    previous?.build.cancel();
    // Still serving (a build in flight, or one that failed): layers above may hold it.
    const serving = this.current instanceof InterimPicker ? this.current : undefined;
    if (endpoints.length > 0) {
      const later = this.buildLater(endpoints);
      if (later !== undefined) {
        // The same interim object while builds supersede each other: layers above that kept it see the landing.
        const interim = serving ?? new InterimPicker();
        interim.serve(this.built, later.departed);
        const entry = { build: later, interim };
        this.pending = entry;
        this.current = interim;
        later.result.then(
          (picker) => {
            if (this.pending !== entry) return;
            this.pending = undefined;
            this.built = picker;
            this.current = picker;
            interim.land(picker);
            this.settle();
          },
          (error: unknown) => {
            if (this.pending !== entry) return;
            // The interim picker (the old one without the endpoints that left) keeps serving.
            this.pending = undefined;
            try {
              this.logger.warn('balancer: background hash table build failed; keeping the previous table', {
                error: error instanceof Error ? error.message : String(error),
              });
            } catch {
              // A logger that throws must not become an unhandled rejection.
            }
            this.settle();
          },
        );
        return;
      }
    }
    const picker = endpoints.length === 0 ? emptyPicker : this.build(endpoints);
    this.built = picker;
    this.current = picker;
    serving?.land(picker);
    this.settle();
  }

  protected abstract build(endpoints: readonly Endpoint[]): Picker;

  /** A build to run in the background instead of `build`, or undefined to build in place (the default). */
  protected buildLater(_endpoints: readonly Endpoint[]): BackgroundBuild | undefined {
    return undefined;
  }

  /**
   * @internal Resolves when no background build is in flight (it landed, failed, or was
   * dropped by dispose); at once when none is.
   */
  whenSettled(): Promise<void> {
    if (this.pending === undefined) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private settle(): void {
    if (this.pending !== undefined) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }

  onCallStart(endpoint: Endpoint): void {
    this.stats.callStarted(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.stats.callEnded(endpoint, outcome);
  }

  dispose(): void {
    this.pending?.build.cancel();
    this.pending = undefined;
    if (this.current instanceof InterimPicker) this.current.land(emptyPicker);
    this.current = emptyPicker;
    this.built = emptyPicker;
    this.settle();
  }
}

/**
 * What serves while a background build runs: the last full picker, skipping the endpoints that
 * left (so none is ever returned); once the build lands, the new picker itself (layers above may
 * hold this object until their next rebuild). New endpoints get traffic when the build lands.
 */
class InterimPicker implements Picker {
  private base: Picker = emptyPicker;
  private departed: ReadonlySet<string> = new Set();
  private landed: Picker | undefined;

  serve(base: Picker, departed: ReadonlySet<string>): void {
    this.base = base;
    this.departed = departed;
    this.landed = undefined;
  }

  land(picker: Picker): void {
    this.landed = picker;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    if (this.landed !== undefined) return this.landed.pick(ctx);
    const departed = this.departed;
    if (departed.size === 0) return this.base.pick(ctx);
    const exclude = ctx?.exclude;
    // The retry path builds a set per pick; only while a build runs.
    const skip = hasExclusions(exclude) ? new Set([...departed, ...exclude]) : departed;
    const ep = this.base.pick({ hashKey: ctx?.hashKey, exclude: skip });
    if (ep === undefined || !departed.has(ep.id)) return ep;
    // Every live endpoint was excluded by the caller (a picker then returns an excluded one): a live one.
    if (skip === departed) return undefined;
    const live = this.base.pick({ hashKey: ctx?.hashKey, exclude: departed });
    return live === undefined || departed.has(live.id) ? undefined : live;
  }
}

/** True when `exclude` is given and non-empty (the retry path). */
export function hasExclusions(exclude: ReadonlySet<string> | undefined): exclude is ReadonlySet<string> {
  return exclude !== undefined && exclude.size > 0;
}
