import type { BreakerRegistry } from '@meshless/breaker';
import {
  type CallObserver,
  combineObservers,
  type Disposable,
  DisposableStore,
  type Logger,
  noopCallObserver,
  type RuleStore,
} from '@meshless/core';
import { MeshMetrics, MetricsObserver } from '@meshless/metrics';
import { createMeshTracer, type MeshTracer, TracingObserver } from '@meshless/tracing';
import { clientHooksObserver } from './client/client-observer.ts';
import type { MeshOptions } from './mesh-options.ts';
import { inboundHooksObserver } from './server/inbound-observer.ts';

/** The mesh's telemetry: its tracer, its metrics, and the one observer every call opens a scope on. */
export interface MeshTelemetry extends Disposable {
  readonly tracer: MeshTracer | undefined;
  readonly metrics: MeshMetrics | undefined;
  /** Tracing, metrics and the user's hooks, combined once. */
  readonly observer: CallObserver;
}

/** Builds the telemetry `options` ask for; metrics follow the rule store and the breakers. */
export function createMeshTelemetry(
  options: MeshOptions,
  logger: Logger,
  rules: RuleStore,
  breakers: BreakerRegistry,
): MeshTelemetry {
  const tracer =
    options.tracing === false
      ? undefined
      : createMeshTracer({ ...options.tracing, serviceName: options.service?.name });
  const metrics = options.metrics === false ? undefined : new MeshMetrics(options.metrics ?? {});
  // Metrics before the user's hooks: a hook sees the call already counted.
  const observer = combineObservers([
    tracer ? new TracingObserver(tracer) : noopCallObserver,
    metrics ? new MetricsObserver(metrics) : noopCallObserver,
    clientHooksObserver(options.observers?.client, logger),
    inboundHooksObserver(options.observers?.inbound, logger),
  ]);
  const subscriptions = new DisposableStore();
  if (metrics) {
    subscriptions.add(metrics.observeRuleStore(rules));
    subscriptions.add(breakers.onDidChangeState((c) => metrics.breakerState(c.resource, c.to, c.endpointId)));
  }
  return { tracer, metrics, observer, dispose: () => subscriptions.dispose() };
}
