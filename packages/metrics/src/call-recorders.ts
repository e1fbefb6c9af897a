import type { CounterCell, CounterFamily } from './counter-family.ts';
import type { HistogramCell, HistogramFamily } from './histogram-family.ts';
import { type Outcome, STATUS_CLASSES, statusClassIndex } from './outcome.ts';

interface CallCells {
  readonly total: CounterCell;
  readonly duration: HistogramCell;
}

/**
 * The prepared recorder for one label set of calls (a service, method and subset; or a
 * resource). Get it once, when the route and subset are known, keep it, and call `record()` per
 * call: one counter increment and one histogram observation on cells resolved earlier. The
 * `success` series exists from the start (a 0 beats a missing series in rate() queries).
 */
export class OutcomeRecorder {
  private readonly success: CallCells;
  private readonly others = new Map<Outcome, CallCells>();
  private readonly totals: CounterFamily;
  private readonly durations: HistogramFamily;
  private readonly labelValues: readonly string[];

  constructor(totals: CounterFamily, durations: HistogramFamily, labelValues: readonly string[]) {
    this.totals = totals;
    this.durations = durations;
    this.labelValues = labelValues;
    this.success = this.cellsFor('success');
  }

  /** One finished call: how it ended and how long it took, in seconds. */
  record(outcome: Outcome, seconds: number): void {
    const cells = outcome === 'success' ? this.success : (this.others.get(outcome) ?? this.prepare(outcome));
    cells.total.value++;
    cells.duration.observe(seconds);
  }

  private prepare(outcome: Outcome): CallCells {
    const cells = this.cellsFor(outcome);
    this.others.set(outcome, cells);
    return cells;
  }

  private cellsFor(outcome: Outcome): CallCells {
    return callCells(this.totals, this.durations, this.labelValues, outcome);
  }
}

/** The counter and histogram cells of one label set, the last label given apart. */
function callCells(
  totals: CounterFamily,
  durations: HistogramFamily,
  labelValues: readonly string[],
  last: string,
): CallCells {
  const values = [...labelValues, last];
  return { total: totals.cell(values), duration: durations.cell(values) };
}

/** The prepared recorder for one (service, method) of inbound requests, by status class. */
export class StatusRecorder {
  private readonly slots: (CallCells | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ];
  private readonly totals: CounterFamily;
  private readonly durations: HistogramFamily;
  private readonly labelValues: readonly string[];

  constructor(totals: CounterFamily, durations: HistogramFamily, labelValues: readonly string[]) {
    this.totals = totals;
    this.durations = durations;
    this.labelValues = labelValues;
    this.prepare(1); // 2xx exists from the start
  }

  /** One answered request: the status sent and the handling time in seconds. */
  record(status: number, seconds: number): void {
    const slot = statusClassIndex(status);
    const cells = this.slots[slot] ?? this.prepare(slot);
    cells.total.value++;
    cells.duration.observe(seconds);
  }

  private prepare(slot: number): CallCells {
    const cells = callCells(this.totals, this.durations, this.labelValues, STATUS_CLASSES[slot]!);
    this.slots[slot] = cells;
    return cells;
  }
}

/** Counts by one free label (a reason), cells cached per value. */
export class ReasonCounter {
  private readonly cells = new Map<string, CounterCell>();
  private readonly family: CounterFamily;
  private readonly labelValues: readonly string[];

  constructor(family: CounterFamily, labelValues: readonly string[]) {
    this.family = family;
    this.labelValues = labelValues;
  }

  inc(reason: string, by = 1): void {
    let cell = this.cells.get(reason);
    if (cell === undefined) {
      cell = this.family.cell([...this.labelValues, reason]);
      this.cells.set(reason, cell);
    }
    cell.value += by;
  }
}

/** The governed method (decorated resource) recorder: outcome and duration, plus fallbacks. */
export class ResourceRecorder extends OutcomeRecorder {
  private readonly fallbacks: CounterCell;

  constructor(totals: CounterFamily, durations: HistogramFamily, fallbacks: CounterCell, resource: string) {
    super(totals, durations, [resource]);
    this.fallbacks = fallbacks;
  }

  /** The call failed and a fallback answered instead. */
  fallback(): void {
    this.fallbacks.value++;
  }
}
