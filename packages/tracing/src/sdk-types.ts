import type {
  Attributes,
  Context,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
  TraceState,
} from './otel.ts';

// The OpenTelemetry SDK shapes that startTracing() takes and returns, declared here so that the
// types of @meshless/tracing (and of meshless) resolve without the SDK installed: it is an optional
// peer. They mirror @opentelemetry/sdk-trace 3.x; the SDK's own classes fit them.

/** A finished span as exporters receive it (the SDK's `ReadableSpan`). */
export interface ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: {
    readonly time: HrTime;
    readonly name: string;
    readonly attributes?: Attributes;
    readonly droppedAttributesCount?: number;
  }[];
  readonly duration: HrTime;
  readonly ended: boolean;
  readonly resource: { readonly attributes: Attributes };
  readonly instrumentationScope: {
    readonly name: string;
    readonly version?: string;
    readonly schemaUrl?: string;
  };
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

/** What an exporter reports for a batch: `code` 0 succeeded, 1 failed (the SDK's `ExportResult`). */
export interface ExportResult {
  code: number;
  error?: Error;
}

/** Where spans go (the SDK's `SpanExporter`): any exporter of the OpenTelemetry SDK, or your own. */
export interface SpanExporter {
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** The `memory` exporter (the SDK's `InMemorySpanExporter`), for tests. */
export interface InMemorySpanExporter extends SpanExporter {
  /** Every span that ended since the start or the last reset(). */
  getFinishedSpans(): ReadableSpan[];
  reset(): void;
}

/** Batch span processor settings (the SDK's `BatchSpanProcessorOptions` without the exporter). */
export interface BatchOptions {
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxQueueSize?: number;
}

/** A sampling decision: 0 drop, 1 record only, 2 record and sample (the SDK's `SamplingResult`). */
export interface SamplingResult {
  decision: number;
  attributes?: Readonly<Attributes>;
  traceState?: TraceState;
}

/** Decides which spans are recorded (the SDK's `Sampler`, e.g. its `TraceIdRatioBasedSampler`). */
export interface Sampler {
  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult;
  toString(): string;
}
