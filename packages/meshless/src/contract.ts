// `meshless/contract`: what instances and tools outside them (the CLI, a CI job, a UI) agree on,
// without the SDK. The KV layout (the rule sections, their schemas and JSON Schemas) and the
// governance check's report format. Nothing here may import undici, prom-client or OpenTelemetry:
// test/contract-graph.test.ts loads the built entry and checks its module graph.

export * from './governance-report.ts';
export * from './rules/index.ts';
export type { LatencyHistogram, SignalSource, SubsetWindow } from './signal-source.ts';
export {
  emptyHistogram,
  histogramDelta,
  histogramQuantile,
  histogramTotal,
  mergeHistograms,
} from './signals/latency-histogram.ts';
export {
  parseSignalsAnswer,
  SIGNALS_ANSWER_FORMAT,
  SIGNALS_META,
  type SignalsAnswer,
  type SignalsRow,
  type SignalsTargetHealth,
} from './signals/signals-answer.ts';
export {
  aggregateWindows,
  FiguresAccumulator,
  type FleetAggregates,
  type InstanceWindow,
  instanceWindow,
  type LabelledWindow,
  rowErrors,
  type SignalFigures,
} from './signals/signals-window.ts';
// The CLI's signals reader dials Connect-native instances with an identity of its own.
export { type IdentitySource, TlsCredentials } from './zero-trust/tls-credentials.ts';
