import { ReasonCounter, StatusRecorder } from './call-recorders.ts';
import type { CounterFamily } from './counter-family.ts';
import type { HistogramFamily } from './histogram-family.ts';
import { methodLabel } from './outcome.ts';

/** Inbound requests of one service (this instance's own handlers). */
export class ServerServiceMetrics {
  readonly service: string;
  private readonly calls = new Map<string, StatusRecorder>();
  private readonly rejections: ReasonCounter;
  private readonly totals: CounterFamily;
  private readonly durations: HistogramFamily;

  constructor(service: string, totals: CounterFamily, durations: HistogramFamily, rejected: CounterFamily) {
    this.service = service;
    this.totals = totals;
    this.durations = durations;
    this.rejections = new ReasonCounter(rejected, [service]);
  }

  /** The recorder for one HTTP method (unknown methods share `_OTHER`, so a client cannot grow the map). */
  call(method: string): StatusRecorder {
    let recorder = this.calls.get(method);
    if (recorder === undefined) {
      const label = methodLabel(method);
      recorder =
        this.calls.get(label) ?? new StatusRecorder(this.totals, this.durations, [this.service, label]);
      this.calls.set(label, recorder);
    }
    return recorder;
  }

  /** An inbound request was shed before the handler ran (`rate_limited`, `concurrency_limited`, `fault_abort`, ...). */
  rejected(reason: string): void {
    this.rejections.inc(reason);
  }
}
