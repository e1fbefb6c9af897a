// The OpenTelemetry adapter of @meshless/tracing: the one file that names its packages. The
// API (a required peer) gives the values; the SDK packages (optional peers, loaded on demand by
// load-tracing-sdk.ts) give types only, so importing this file never loads the SDK.

export {
  type Attributes,
  type Context,
  context,
  type HrTime,
  type Link,
  logs,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  type TraceState,
  trace,
} from '@opentelemetry/api';
export type { SpanProcessor } from '@opentelemetry/sdk-trace';

/** The SDK modules startTracing() loads (their shapes only; loaded by load-tracing-sdk.ts). */
export type SdkNodeModule = typeof import('@opentelemetry/sdk-node');
export type SdkTraceModule = typeof import('@opentelemetry/sdk-trace');
export type ResourcesModule = typeof import('@opentelemetry/resources');
export type OtlpHttpModule = typeof import('@opentelemetry/exporter-trace-otlp-http');
