import {
  type BalancerRule,
  type BalancerStack,
  createBalancer,
  type EjectionEvent,
  rebuildBalancer,
} from '@meshless/balancer';
import {
  compileRoutes,
  hasEndpointsIn,
  partitionBySubset,
  patchSubset,
  type RoutesRule,
  type RouteTable,
} from '@meshless/canary';
import {
  type Disposable,
  type Endpoint,
  type EndpointDelta,
  endpointDelta,
  type Logger,
  type Random,
} from '@meshless/core';

const ALL = '';

export interface EndpointGroupsOptions {
  service: string;
  now: () => number;
  random: Random;
  localZone?: string | undefined;
  localRegion?: string | undefined;
  logger: Logger;
  /** Outlier detection ejected an endpoint in one of the groups' balancers. */
  onEject?: (event: EjectionEvent) => void;
}

/**
 * The endpoints of one target service, split into the subsets the routes rule names, each with
 * its own balancer. Rebuilt when membership, the routes rule or the balancer rule changes —
 * never per call. A balancer's stats survive rebuilds (by subset name, then by endpoint id).
 */
export class EndpointGroups {
  private readonly options: EndpointGroupsOptions;
  private endpoints: readonly Endpoint[] = [];
  /** `endpoints` is known to be sorted by id (it passed the last delta's checks). */
  private sorted = true;
  private balancerRule: BalancerRule | undefined;
  private baseTable: RouteTable;
  private table_: RouteTable;
  private readonly byGroup = new Map<string, BalancerStack>();
  /** Each subset's endpoints, as of the last rebuild (patched by membership changes). */
  private partition: ReadonlyMap<string, readonly Endpoint[]> = new Map();
  /** The list each group's balancer was last updated with, and that balancer. */
  private readonly fed = new Map<string, readonly Endpoint[]>();
  private readonly fedTo = new Map<string, BalancerStack>();
  private readonly emptySubsets = new Set<string>();
  /** Each balancer's ejection subscription, by group name (a rebuild makes a new balancer). */
  private readonly ejections = new Map<string, Disposable>();

  constructor(options: EndpointGroupsOptions) {
    this.options = options;
    this.baseTable = compileRoutes(undefined);
    this.table_ = this.baseTable;
    this.rebuild();
  }

  /** The route table, aware of which subsets have endpoints. */
  get table(): RouteTable {
    return this.table_;
  }

  get all(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** The balancer of a subset (undefined: all endpoints). */
  balancer(subset: string | undefined): BalancerStack | undefined {
    return this.byGroup.get(subset ?? ALL);
  }

  /** Every group's balancer: all endpoints, then each subset's. */
  balancers(): IterableIterator<BalancerStack> {
    return this.byGroup.values();
  }

  /** Subsets a route names that have no endpoint now (for status). */
  get empty(): readonly string[] {
    return [...this.emptySubsets];
  }

  /**
   * New membership. Returns the endpoints that are new or changed (by identity), or undefined
   * when the list is not sorted by id and everything was rebuilt: at 10 000 endpoints a change of
   * one must cost the main thread that one, not a pass of filters over the fleet.
   */
  setEndpoints(endpoints: readonly Endpoint[]): readonly Endpoint[] | undefined {
    const delta = endpointDelta(this.endpoints, endpoints, undefined, this.sorted);
    this.sorted = delta !== undefined;
    this.endpoints = endpoints;
    this.rebuild(delta);
    return delta?.upserts;
  }

  setRoutes(rule: RoutesRule | undefined): void {
    this.baseTable = compileRoutes(rule);
    this.rebuild();
  }

  setBalancerRule(rule: BalancerRule | undefined): void {
    this.balancerRule = rule;
    for (const [name, previous] of this.byGroup) {
      try {
        this.setBalancer(name, rebuildBalancer(previous, rule, this.balancerOptions()));
      } catch (error) {
        // Validated rules cannot fail here; a bug must not leave the group without a balancer.
        this.options.logger.error('balancer rebuild failed; keeping the previous one', {
          service: this.options.service,
          error,
        });
      }
    }
  }

  dispose(): void {
    for (const b of this.byGroup.values()) b.dispose();
    for (const e of this.ejections.values()) e.dispose();
    this.byGroup.clear();
    this.ejections.clear();
  }

  private setBalancer(name: string, balancer: BalancerStack): void {
    this.byGroup.set(name, balancer);
    this.ejections.get(name)?.dispose();
    const onEject = this.options.onEject;
    if (onEject) this.ejections.set(name, balancer.onDidEject(onEject));
  }

  private rebuild(delta?: EndpointDelta): void {
    const partition = delta ? this.patched(delta) : partitionBySubset(this.endpoints, this.baseTable.subsets);
    this.partition = partition;
    const wanted = new Map<string, readonly Endpoint[]>([[ALL, this.endpoints]]);
    for (const [name, list] of partition) wanted.set(name, list);
    for (const [name, balancer] of this.byGroup) {
      if (!wanted.has(name)) {
        balancer.dispose();
        this.byGroup.delete(name);
        this.fed.delete(name);
        this.fedTo.delete(name);
        this.ejections.get(name)?.dispose();
        this.ejections.delete(name);
      }
    }
    this.emptySubsets.clear();
    for (const [name, list] of wanted) {
      let balancer = this.byGroup.get(name);
      if (!balancer) {
        balancer = createBalancer(this.balancerRule, this.balancerOptions());
        this.setBalancer(name, balancer);
      }
      // A subset the change did not touch keeps its list, and its balancer is left alone.
      if (this.fed.get(name) !== list || balancer !== this.fedTo.get(name)) {
        balancer.update(list);
        this.fed.set(name, list);
        this.fedTo.set(name, balancer);
      }
      if (name !== ALL && list.length === 0) this.emptySubsets.add(name);
    }
    this.table_ = this.baseTable.withAvailability(hasEndpointsIn(this.endpoints, partition));
  }

  /** The last partition with a membership change applied (the subsets are the same). */
  private patched(delta: EndpointDelta): ReadonlyMap<string, readonly Endpoint[]> {
    const out = new Map<string, readonly Endpoint[]>();
    for (const [name, filter] of this.baseTable.subsets) {
      const prev = this.partition.get(name);
      out.set(
        name,
        prev === undefined ? Object.freeze(this.endpoints.filter(filter)) : patchSubset(prev, delta, filter),
      );
    }
    return out;
  }

  private balancerOptions() {
    return {
      now: this.options.now,
      random: this.options.random,
      localZone: this.options.localZone,
      localRegion: this.options.localRegion,
      logger: this.options.logger,
    };
  }
}
