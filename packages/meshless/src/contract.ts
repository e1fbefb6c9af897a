// `meshless/contract`: what instances and tools outside them (the CLI, a CI job, a UI) agree on,
// without the SDK. The KV layout (the rule sections, their schemas and JSON Schemas) and the
// governance check's report format. Nothing here may import undici, prom-client or OpenTelemetry:
// test/contract-graph.test.ts loads the built entry and checks its module graph.

export * from './governance-report.ts';
export * from './rules/index.ts';
export type { LatencyHistogram, SignalSource, SubsetWindow } from './signal-source.ts';
