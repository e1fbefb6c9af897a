import { type Tracer, type TracerProvider, trace } from './otel.ts';

// One generation counter per process (shared across duplicate installs through the global
// symbol registry): startTracing() and refreshTracing() bump it, and every MeshTracer compares
// it with the generation it resolved its tracer at. An integer compare per call, nothing more.
const KEY = Symbol.for('meshless.tracing.generation');
const holder = globalThis as { [KEY]?: { value: number } };
holder[KEY] ??= { value: 0 };

export const generation: { value: number } = holder[KEY];

/**
 * Tells every MeshTracer to look again for a registered OpenTelemetry SDK. startTracing() does
 * this itself; call it after registering (or disabling) a tracer provider of your own after the
 * mesh was created.
 */
export function refreshTracing(): void {
  generation.value++;
}

interface DelegatingProvider {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

/**
 * The tracer that would record, or undefined when none would: the API's ProxyTracerProvider
 * with no delegate (no SDK registered) hands out no-op tracers, and then meshless skips the span
 * machinery entirely. Checked duck-typed, so a second copy of @opentelemetry/api is recognised too.
 */
export function resolveTracer(
  provider: TracerProvider | undefined,
  name: string,
  version: string,
): Tracer | undefined {
  const p = provider ?? trace.getTracerProvider();
  if (typeof (p as Partial<DelegatingProvider>).getDelegateTracer === 'function') {
    return (p as unknown as DelegatingProvider).getDelegateTracer(name, version);
  }
  return p.getTracer(name, version);
}
