import { OutcomeRecorder, ReasonCounter } from './call-recorders.ts';
import type { CounterCell, CounterFamily } from './counter-family.ts';
import type { HistogramFamily } from './histogram-family.ts';
import { methodLabel } from './outcome.ts';
import type { Gauge } from './prom.ts';

export interface ClientFamilies {
  readonly requests: CounterFamily;
  readonly durations: HistogramFamily;
  readonly retries: CounterFamily;
  readonly hedges: CounterFamily;
  readonly budgetExhausted: CounterFamily;
  readonly rejected: CounterFamily;
  readonly ejections: CounterFamily;
  readonly healthy: Gauge<'service'>;
  readonly ejected: Gauge<'service'>;
}

/** Everything measured about calls to one service. Get it once per service; its methods are cheap. */
export class ClientServiceMetrics {
  readonly service: string;
  private readonly f: ClientFamilies;
  private readonly endpointLabels: boolean;
  // method -> subset -> endpoint -> recorder: Map lookups on strings the caller already holds,
  // cheaper than joining them into one key per call.
  private readonly calls = new Map<string, Map<string, Map<string, OutcomeRecorder>>>();
  private readonly retries: ReasonCounter;
  private readonly hedges: ReasonCounter;
  private readonly budget: ReasonCounter;
  private readonly rejections: ReasonCounter;
  private readonly ejectionCell: CounterCell;
  private ejectedNow = 0;

  constructor(service: string, families: ClientFamilies, endpointLabels: boolean) {
    this.service = service;
    this.f = families;
    this.endpointLabels = endpointLabels;
    this.retries = new ReasonCounter(families.retries, [service]);
    this.hedges = new ReasonCounter(families.hedges, [service]);
    this.budget = new ReasonCounter(families.budgetExhausted, [service]);
    this.rejections = new ReasonCounter(families.rejected, [service]);
    this.ejectionCell = families.ejections.cell([service]);
  }

  /**
   * The recorder for calls with this method and subset (undefined: all endpoints). `endpoint`
   * (e.g. `10.0.0.7:8080`) is used only when the metrics were created with `endpointLabels: true`.
   * Resolve it when the route and subset are known and keep it; `record()` is the per-call part.
   */
  call(method: string, subset: string | undefined, endpoint?: string): OutcomeRecorder {
    const s = subset ?? '';
    const e = this.endpointLabels ? (endpoint ?? '') : '';
    let bySubset = this.calls.get(method);
    if (bySubset === undefined) {
      bySubset = new Map();
      this.calls.set(method, bySubset);
    }
    let byEndpoint = bySubset.get(s);
    if (byEndpoint === undefined) {
      byEndpoint = new Map();
      bySubset.set(s, byEndpoint);
    }
    let recorder = byEndpoint.get(e);
    if (recorder === undefined) {
      const m = methodLabel(method);
      const labels = this.endpointLabels ? [this.service, m, s, e] : [this.service, m, s];
      recorder = new OutcomeRecorder(this.f.requests, this.f.durations, labels);
      byEndpoint.set(e, recorder);
    }
    return recorder;
  }

  /** A retry is about to start; `reason` is what failed, low-cardinality (`503`, `timeout`, `connect_error`). */
  retry(reason: string): void {
    this.retries.inc(reason);
  }

  /** A hedged attempt started; `reason`: `delay` (the hedge delay passed) or `failure`. */
  hedge(reason: string): void {
    this.hedges.inc(reason);
  }

  /** The retry budget denied a retry (`retry`) or a hedge (`hedge`). */
  budgetExhausted(kind: 'retry' | 'hedge'): void {
    this.budget.inc(kind);
  }

  /** A call or attempt was refused on the client side (`rate_limited`, `bulkhead_full`, `circuit_open`, ...). */
  rejected(reason: string): void {
    this.rejections.inc(reason);
  }

  /** Endpoints now usable and now ejected by outlier detection (call on membership or ejection changes). */
  endpoints(healthy: number, ejected: number): void {
    this.f.healthy.set({ service: this.service }, healthy);
    this.f.ejected.set({ service: this.service }, ejected);
    this.ejectedNow = ejected;
  }

  /** Endpoints ejected now (the last `endpoints()` call): for the golden signals' `targets`. */
  get ejected(): number {
    return this.ejectedNow;
  }

  /** Outlier detection ejected an endpoint. */
  ejection(): void {
    this.ejectionCell.value++;
  }
}
