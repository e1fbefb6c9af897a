import { Family, type Series } from './family.ts';

/** One counter series; the hot path does `cell.value += n` (or `inc()`). */
export class CounterCell implements Series {
  value = 0;
  readonly labels: Readonly<Record<string, string>>;

  constructor(labels: Readonly<Record<string, string>>) {
    this.labels = labels;
  }

  inc(by = 1): void {
    this.value += by;
  }
}

interface CounterValue {
  value: number;
  labels: Record<string, string>;
}

/** A Prometheus counter family with prepared cells (see Family). */
export class CounterFamily extends Family<CounterCell> {
  readonly type = 'counter';

  protected create(labels: Readonly<Record<string, string>>): CounterCell {
    return new CounterCell(labels);
  }

  /** prom-client's metric interface: the scrape. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'counter';
    aggregator: 'sum';
    values: CounterValue[];
  }> {
    const values: CounterValue[] = [];
    for (const s of this.series.values()) values.push({ value: s.value, labels: { ...s.labels } });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client's `registry.resetMetrics()`: zero in place, since handles keep their cells. */
  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}
