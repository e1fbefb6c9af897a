import type { CounterFamily } from './counter-family.ts';
import type { AnyRegistry } from './family.ts';
import { Gauge } from './prom.ts';

export type BreakerState = 'closed' | 'half-open' | 'open';

const VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };
const STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];
/** The key for a breaker that covers a whole resource (a decorated method, a service without endpoints). */
const WHOLE = '';

export interface BreakerGaugesOptions {
  prefix: string;
  registry: AnyRegistry;
  transitions: CounterFamily;
  endpointLabels: boolean;
}

/**
 * Breaker states as gauges, updated on transitions (rare), never per call. Without endpoint
 * labels a service's per-endpoint breakers fold into the worst state and a count per state.
 */
export class BreakerGauges {
  private readonly byResource = new Map<string, Map<string, BreakerState>>();
  private readonly state: Gauge<string>;
  private readonly count: Gauge<string>;
  private readonly transitions: CounterFamily;
  private readonly endpointLabels: boolean;

  constructor(o: BreakerGaugesOptions) {
    this.endpointLabels = o.endpointLabels;
    this.transitions = o.transitions;
    this.state = new Gauge({
      name: `${o.prefix}breaker_state`,
      help: o.endpointLabels
        ? 'Circuit breaker state per breaker: 0 closed, 1 half-open, 2 open'
        : 'Worst circuit breaker state of the resource: 0 closed, 1 half-open, 2 open',
      labelNames: o.endpointLabels ? ['resource', 'endpoint'] : ['resource'],
      registers: [o.registry],
    });
    this.count = new Gauge({
      name: `${o.prefix}breakers`,
      help: 'Circuit breakers of the resource in each state',
      labelNames: ['resource', 'state'],
      registers: [o.registry],
    });
  }

  /** A breaker of `resource` (for one endpoint, or the whole resource) is now in `state`. */
  set(resource: string, state: BreakerState, endpoint: string = WHOLE): void {
    let states = this.byResource.get(resource);
    if (states === undefined) {
      states = new Map();
      this.byResource.set(resource, states);
    }
    const previous = states.get(endpoint) ?? 'closed';
    states.set(endpoint, state);
    if (previous !== state) this.transitions.cell([resource, state]).value++;
    if (this.endpointLabels) this.state.set({ resource, endpoint }, VALUE[state]);
    this.refresh(resource, states);
  }

  /** The breaker is gone (its endpoint left): its series goes too. */
  remove(resource: string, endpoint: string = WHOLE): void {
    const states = this.byResource.get(resource);
    if (!states?.delete(endpoint)) return;
    if (this.endpointLabels) this.state.remove({ resource, endpoint });
    if (states.size === 0) {
      this.byResource.delete(resource);
      if (!this.endpointLabels) this.state.remove({ resource });
      for (const s of STATES) this.count.remove({ resource, state: s });
      return;
    }
    this.refresh(resource, states);
  }

  /** Open breakers per resource, for resources with at least one (bounded by the resources known). */
  openCounts(): { resource: string; open: number }[] {
    const out: { resource: string; open: number }[] = [];
    for (const [resource, states] of this.byResource) {
      let open = 0;
      for (const s of states.values()) if (s === 'open') open++;
      if (open > 0) out.push({ resource, open });
    }
    return out;
  }

  private refresh(resource: string, states: Map<string, BreakerState>): void {
    const counts = [0, 0, 0];
    let worst = 0;
    for (const s of states.values()) {
      const v = VALUE[s];
      counts[v]!++;
      if (v > worst) worst = v;
    }
    if (!this.endpointLabels) this.state.set({ resource }, worst);
    for (let i = 0; i < STATES.length; i++) this.count.set({ resource, state: STATES[i]! }, counts[i]!);
  }
}
