export type { BreakerState } from './breaker-gauges.ts';
export { OutcomeRecorder, ReasonCounter, ResourceRecorder, StatusRecorder } from './call-recorders.ts';
export { ClientServiceMetrics } from './client-service-metrics.ts';
export { CounterCell, CounterFamily } from './counter-family.ts';
export type { AnyRegistry, FamilyOptions } from './family.ts';
export {
  type GoldenSignals,
  type InboundSignals,
  MAX_SIGNAL_ROWS,
  type OutboundSignals,
  SIGNALS_FORMAT,
  type SignalsIdentity,
} from './golden-signals.ts';
export {
  DEFAULT_SECONDS_BUCKETS,
  HistogramCell,
  HistogramFamily,
  type HistogramFamilyOptions,
} from './histogram-family.ts';
export {
  METRIC_NAMES,
  MeshMetrics,
  type MeshMetricsOptions,
} from './mesh-metrics.ts';
export {
  createMetricsHandler,
  createStaticMetricsHandler,
  type MetricsHandler,
  type MetricsSource,
  type ReplyLike,
} from './metrics-handler.ts';
export { MetricsObserver } from './metrics-observer.ts';
export { methodLabel, OUTCOMES, type Outcome, outcomeOf, statusClass } from './outcome.ts';
export { ServerServiceMetrics } from './server-service-metrics.ts';
