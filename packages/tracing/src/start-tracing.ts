import { ConfigError } from '@meshless/core';
import { loadTracingSdk } from './load-tracing-sdk.ts';
import { TRACER_NAME, TRACER_VERSION } from './mesh-tracer.ts';
import { type Attributes, context, logs, propagation, type SpanProcessor, trace } from './otel.ts';
import { refreshTracing, resolveTracer } from './provider-state.ts';
import type { BatchOptions, InMemorySpanExporter, Sampler, SpanExporter } from './sdk-types.ts';

/** Where spans go: OTLP/HTTP (JSON) to a collector, the console, memory (tests), or your own exporter. */
export type TracingExporter = 'otlp' | 'console' | 'memory' | SpanExporter;

export interface OtlpOptions {
  /** Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, else http://localhost:4318/v1/traces. */
  url?: string;
  /** Default: OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS. */
  headers?: Record<string, string>;
  /** Default: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT / OTEL_EXPORTER_OTLP_TIMEOUT, else 10 000. */
  timeoutMillis?: number;
}

export interface StartTracingOptions {
  /** `service.name` of the resource. */
  serviceName: string;
  /** `service.version` of the resource. */
  serviceVersion?: string;
  /** Default `otlp`. `console` and `memory` export each span as it ends; the others batch. */
  exporter?: TracingExporter;
  /** Options of the `otlp` exporter (the standard OTEL_EXPORTER_OTLP_* variables apply where unset). */
  otlp?: OtlpOptions;
  /** Batch processor settings (default: the SDK's, i.e. 5 s delay, 512 per batch, 2048 queued). */
  batch?: BatchOptions;
  /** Default: from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, else parent-based always-on. */
  sampler?: Sampler;
  /** More resource attributes (`deployment.environment.name`, ...). */
  resourceAttributes?: Attributes;
  /**
   * Run the SDK's resource detectors (host, os, process, OTEL_RESOURCE_ATTRIBUTES). Default
   * true; startInMemoryTracing turns it off, since detected attributes settle asynchronously and
   * hold back the export of each span until they do.
   */
  detectResources?: boolean;
}

export interface TracingHandle<E extends SpanExporter = SpanExporter> {
  readonly exporter: E;
  /** Exports every ended span now. */
  forceFlush(): Promise<void>;
  /** Flushes, stops the SDK and unregisters its globals, so tracing is off again (and may be started anew). Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK for meshless: a tracer provider with the chosen exporter,
 * W3C trace-context and baggage propagation (or OTEL_PROPAGATORS), async-local context, and the
 * resource (service name, host, process, OTEL_RESOURCE_ATTRIBUTES). Traces only: no metrics or
 * logs pipelines. The SDK is loaded here, on first use, so an app that never traces never loads it;
 * its packages are optional peer dependencies: without them this throws a TracingSdkMissingError
 * (`MESHLESS_TRACING_SDK_MISSING`) naming what to install. Every MeshTracer notices the change on
 * its next call.
 */
export async function startTracing(options: StartTracingOptions): Promise<TracingHandle> {
  if (!options || typeof options.serviceName !== 'string' || options.serviceName === '') {
    throw new ConfigError('startTracing needs a serviceName', { path: 'serviceName' });
  }
  if (resolveTracer(undefined, TRACER_NAME, TRACER_VERSION) !== undefined) {
    throw new ConfigError(
      'a tracer provider is already registered globally; shut it down first, or let meshless use it as is',
    );
  }
  const choice = options.exporter ?? 'otlp';
  const { sdkNode, sdkTrace, resources, otlpHttp } = await loadTracingSdk(choice === 'otlp');
  let exporter: SpanExporter;
  let processor: SpanProcessor;
  if (choice === 'console' || choice === 'memory') {
    exporter =
      choice === 'console' ? new sdkTrace.ConsoleSpanExporter() : new sdkTrace.InMemorySpanExporter();
    processor = new sdkTrace.SimpleSpanProcessor({ exporter });
  } else {
    if (choice === 'otlp') {
      exporter = new otlpHttp!.OTLPTraceExporter(options.otlp ?? {});
    } else if (typeof choice === 'object' && typeof choice.export === 'function') {
      exporter = choice;
    } else {
      throw new ConfigError(
        `unknown exporter ${String(choice)}: expected otlp, console, memory or a SpanExporter`,
        {
          path: 'exporter',
        },
      );
    }
    processor = new sdkTrace.BatchSpanProcessor({ ...options.batch, exporter });
  }

  const attributes: Attributes = { ...options.resourceAttributes };
  if (options.serviceVersion !== undefined) attributes['service.version'] = options.serviceVersion;
  const sdk = new sdkNode.NodeSDK({
    serviceName: options.serviceName,
    resource: resources.defaultResource().merge(resources.resourceFromAttributes(attributes)),
    spanProcessors: [processor],
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    autoDetectResources: options.detectResources ?? true,
    ...(options.sampler ? { sampler: options.sampler } : {}),
  });
  sdk.start();
  refreshTracing();

  let stopped: Promise<void> | undefined;
  return {
    exporter,
    forceFlush: () => processor.forceFlush(),
    shutdown() {
      stopped ??= sdk.shutdown().finally(() => {
        // NodeSDK leaves its globals registered; without this a later startTracing() could not register.
        trace.disable();
        context.disable();
        propagation.disable();
        logs.disable();
        refreshTracing();
      });
      return stopped;
    },
  };
}

/**
 * Tracing into memory, for tests: spans are in `exporter.getFinishedSpans()` as soon as they
 * end; `exporter.reset()` between tests, `shutdown()` after them.
 */
export async function startInMemoryTracing(
  options: Omit<StartTracingOptions, 'exporter' | 'serviceName'> & { serviceName?: string } = {},
): Promise<TracingHandle<InMemorySpanExporter>> {
  const handle = await startTracing({
    detectResources: false,
    ...options,
    serviceName: options.serviceName ?? 'test',
    exporter: 'memory',
  });
  return handle as TracingHandle<InMemorySpanExporter>;
}
