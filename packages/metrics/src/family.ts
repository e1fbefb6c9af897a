import { ConfigError } from '@meshless/core';
import type { Metric, OpenMetricsContentType, PrometheusContentType, Registry } from './prom.ts';

/** A prom-client registry of either exposition format. */
export type AnyRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Joins label values into a map key; a control character no sane label value contains.
const SEP = '\u0001';

export interface FamilyOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
}

/** One labelled series: its label object is built once, when the series is created. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * A metric family whose series are plain objects the hot path updates directly (a prepared
 * cell per label set, resolved once), read by prom-client's registry at scrape time through
 * the same `get()` / `reset()` interface its own metrics have. prom-client's labelled children
 * hash a labels object on every call (about 0.5 µs each); a cell update is a field increment.
 */
export abstract class Family<S extends Series> {
  /** Mutable: prom-client rewrites counter names for the OpenMetrics format. */
  name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  protected readonly series = new Map<string, S>();

  constructor(options: FamilyOptions) {
    if (!METRIC_NAME.test(options.name)) {
      throw new ConfigError(`invalid metric name "${options.name}"`, { path: 'prefix' });
    }
    for (const label of options.labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) {
        throw new ConfigError(`invalid label name "${label}" for ${options.name}`);
      }
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
  }

  /** The series for these label values (in `labelNames` order), created on first use. Not per call. */
  cell(values: readonly string[]): S {
    const key = values.join(SEP);
    let series = this.series.get(key);
    if (series === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new ConfigError(
          `${this.name} takes ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`,
        );
      }
      const labels: Record<string, string> = {};
      for (let i = 0; i < values.length; i++) labels[this.labelNames[i]!] = values[i]!;
      series = this.create(Object.freeze(labels));
      this.series.set(key, series);
    }
    return series;
  }

  /** Every series, for readers other than prom-client (the golden signals). Not on the hot path. */
  allSeries(): IterableIterator<S> {
    return this.series.values();
  }

  /** Drops a series from the output (an endpoint that left). A handle still holding it writes to nothing visible. */
  remove(values: readonly string[]): void {
    this.series.delete(values.join(SEP));
  }

  /** Adds the family to a prom-client registry, which then scrapes it like its own metrics. */
  registerIn(registry: AnyRegistry): this {
    if (registry.getSingleMetric(this.name) !== undefined) {
      throw new ConfigError(
        `metric ${this.name} is already registered (two MeshMetrics on one registry need distinct prefixes)`,
        {
          path: 'registry',
        },
      );
    }
    // prom-client's registry only needs name, type, help, aggregator, get() and reset() (duck-typed).
    registry.registerMetric(this as unknown as Metric);
    return this;
  }

  protected abstract create(labels: Readonly<Record<string, string>>): S;
}
