// First: on a Node.js too old for undici and OpenTelemetry, fail with a clear message before they load.
import './node-version-check.ts';

export type { ConsulOptions } from '@meshless/consul';
export * from '@meshless/core';
export { METRIC_NAMES, MeshMetrics, type MeshMetricsOptions } from '@meshless/metrics';
// A deadline set in code: everything inside (governed calls, decorated methods) ends by then.
export { remainingMs, runWithTimeout } from '@meshless/retry';
export {
  refreshTracing,
  type StartTracingOptions,
  startInMemoryTracing,
  startTracing,
  type TracingHandle,
} from '@meshless/tracing';
export type { ClientObserver } from './client/client-observer.ts';
export type { MeshDispatcher, MeshDispatcherOptions } from './client/dispatcher.ts';
export { MeshClient, type MeshClientOptions, type MeshClientStatus } from './client/mesh-client.ts';
export { MeshResponse } from './client/mesh-response.ts';
export type { MeshRequestInit } from './client/request-init.ts';
export type { TransportOptions as MeshHttpOptions } from './client/transport.ts';
export * from './decorators/index.ts';
export * from './governance/index.ts';
export * from './governance-report.ts';
export {
  createMesh,
  type Mesh,
  type MeshOptions,
  type MeshOptionsInput,
  type MeshServiceOptions,
  type MeshStatus,
} from './mesh.ts';
export type { MeshPropagateOptions } from './propagation/propagate-options.ts';
export { PropagatedHeaders } from './propagation/propagated-headers.ts';
export * from './rules/index.ts';
export type { ErrorMiddleware, Middleware, RequestHandler } from './server/adapters.ts';
export { type ErrorResponse, meshlessErrorResponse } from './server/error-response.ts';
export type { InboundObserver, ShedReason } from './server/inbound-guard.ts';
export type { DefaultDecision, InboundMtlsMode, Refusal } from './zero-trust/inbound-authorizer.ts';
export { type AuthzRequest, type Decision, IntentionTable } from './zero-trust/intention-table.ts';
export { type MeshPeer, type MeshRequestInfo, peerOf } from './zero-trust/peer-identity.ts';
export type { ZeroTrustOptions, ZeroTrustStatus } from './zero-trust/zero-trust.ts';
