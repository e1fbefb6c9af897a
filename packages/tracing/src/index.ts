export * from './attributes.ts';
export { type AttemptKind, AttemptSpan, ClientCallSpan, type EndpointRef } from './client-call-span.ts';
export { errorTypeOf } from './error-type.ts';
export { GovernedSpan } from './governed-span.ts';
export { headerGetter, headerSetter, type IncomingHeaders, type OutgoingHeaders } from './header-carrier.ts';
export { TRACING_SDK_PACKAGES } from './load-tracing-sdk.ts';
export { type BreakerState, MeshSpan, type RejectAction } from './mesh-span.ts';
export {
  createMeshTracer,
  type IncomingRequestLike,
  MeshTracer,
  type MeshTracerOptions,
  TRACER_NAME,
  TRACER_VERSION,
} from './mesh-tracer.ts';
export { refreshTracing } from './provider-state.ts';
export type {
  BatchOptions,
  ExportResult,
  InMemorySpanExporter,
  ReadableSpan,
  Sampler,
  SamplingResult,
  SpanExporter,
} from './sdk-types.ts';
export { ServerSpan } from './server-span.ts';
export {
  type OtlpOptions,
  type StartTracingOptions,
  startInMemoryTracing,
  startTracing,
  type TracingExporter,
  type TracingHandle,
} from './start-tracing.ts';
export { TracingObserver } from './tracing-observer.ts';
