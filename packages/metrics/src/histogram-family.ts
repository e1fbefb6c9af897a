import { ConfigError } from '@meshless/core';
import { Family, type FamilyOptions, type Series } from './family.ts';

/**
 * Default duration buckets in seconds: 1 ms to 10 s, roughly 1-2.5-5 per decade, fine enough
 * below 100 ms where most service calls land.
 */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** One histogram series: per-bucket counts (not cumulative; the last slot is +Inf), sum and count. */
export class HistogramCell implements Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly bounds: Float64Array;
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: Float64Array) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (Number.isNaN(value)) return; // NaN would poison the sum forever
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    // Linear scan: a dozen bounds, and most observations fall in the first few.
    while (i < n && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface HistogramValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  metricName: string;
}

interface HistogramSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: HistogramValue[];
}

export interface HistogramFamilyOptions extends FamilyOptions {
  buckets?: readonly number[];
}

/** A Prometheus histogram family with prepared cells (see Family). */
export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  private readonly bounds: Float64Array;

  constructor(options: HistogramFamilyOptions) {
    super(options);
    if (options.labelNames.includes('le'))
      throw new ConfigError(`le is reserved in histogram ${options.name}`);
    this.buckets = validBuckets(options.buckets ?? DEFAULT_SECONDS_BUCKETS);
    this.bounds = Float64Array.from(this.buckets);
  }

  protected create(labels: Readonly<Record<string, string>>): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }

  private snapshot(): HistogramSnapshot {
    const values: HistogramValue[] = [];
    const bucketName = `${this.name}_bucket`;
    const sumName = `${this.name}_sum`;
    const countName = `${this.name}_count`;
    const buckets = this.buckets;
    for (const s of this.series.values()) {
      const shared = s.labels as Record<string, string>;
      let acc = 0;
      for (let i = 0; i < buckets.length; i++) {
        acc += s.counts[i]!;
        values.push({
          value: acc,
          labels: { le: buckets[i]! },
          sharedLabels: shared,
          metricName: bucketName,
        });
      }
      values.push({ value: s.count, labels: { le: '+Inf' }, sharedLabels: shared, metricName: bucketName });
      values.push({ value: s.sum, labels: {}, sharedLabels: shared, metricName: sumName });
      values.push({ value: s.count, labels: {}, sharedLabels: shared, metricName: countName });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client's metric interface (JSON, cluster aggregation): cumulative `_bucket` series, `_sum`, `_count`. */
  async get(): Promise<HistogramSnapshot> {
    const snapshot = this.snapshot();
    for (const v of snapshot.values) {
      v.labels = { ...v.sharedLabels, ...v.labels };
      v.sharedLabels = {};
    }
    return snapshot;
  }

  /** What prom-client's registry prints: like get(), series labels shared so `le` comes first, as prom-client does. */
  async getForPromString(): Promise<HistogramSnapshot> {
    return this.snapshot();
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

function validBuckets(buckets: readonly number[]): readonly number[] {
  if (buckets.length === 0) throw new ConfigError('buckets must not be empty', { path: 'buckets' });
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (!Number.isFinite(b))
      throw new ConfigError(`buckets[${i}] must be a finite number`, { path: `buckets[${i}]` });
    if (i > 0 && b <= buckets[i - 1]!) {
      throw new ConfigError(`buckets must increase: buckets[${i}] is ${b} after ${buckets[i - 1]}`, {
        path: `buckets[${i}]`,
      });
    }
  }
  return Object.freeze([...buckets]);
}
