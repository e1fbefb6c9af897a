import { type Span, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  TracerProvider as SdkTracerProvider,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { createMeshTracer } from './mesh-tracer.ts';
import { refreshTracing } from './provider-state.ts';
import { startInMemoryTracing } from './start-tracing.ts';

const endpoint = { id: 'e1', address: '10.0.0.1', port: 80 };

describe('MeshTracer with nothing registered', () => {
  it('is off: starts no span, and the governed path calls the method directly', async () => {
    const tracer = createMeshTracer();
    expect(tracer.enabled).toBe(false);
    expect(tracer.startClientCall('GET', 'catalog', '/x')).toBeUndefined();
    expect(
      tracer.startServer({
        method: 'GET',
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      }),
    ).toBeUndefined();
    expect(tracer.startGoverned('catalog.getItem')).toBeUndefined();

    const self = { n: 2 };
    const promise = Promise.resolve(7);
    let seenThis: unknown;
    let seenArgs: unknown[] = [];
    const result = tracer.governed(
      'r',
      function (this: unknown, ...args: unknown[]) {
        seenThis = this;
        seenArgs = args;
        expect(trace.getActiveSpan()).toBeUndefined();
        return promise;
      },
      self,
      [1, 'a'],
    );
    expect(result).toBe(promise); // not wrapped
    expect(seenThis).toBe(self);
    expect(seenArgs).toEqual([1, 'a']);
    await expect(result).resolves.toBe(7);
  });

  it('leaves outgoing headers alone', () => {
    const headers = { accept: '*/*' };
    createMeshTracer().inject(headers);
    expect(headers).toEqual({ accept: '*/*' });
  });

  it('turns on when startTracing() runs and off again after shutdown, for tracers created before', async () => {
    const tracer = createMeshTracer();
    expect(tracer.enabled).toBe(false);
    const tracing = await startInMemoryTracing();
    try {
      const call = tracer.startClientCall('GET', 'catalog', '/x');
      expect(call).toBeDefined();
      call?.startAttempt(1, endpoint).end(200);
      call?.end(200);
      expect(tracing.exporter.getFinishedSpans()).toHaveLength(2);
    } finally {
      await tracing.shutdown();
    }
    expect(tracer.enabled).toBe(false);
    expect(tracer.startClientCall('GET', 'catalog', '/x')).toBeUndefined();
    // and it can be started again
    const again = await startInMemoryTracing();
    expect(tracer.enabled).toBe(true);
    await again.shutdown();
  });

  it('notices a provider registered behind its back only after refreshTracing() (no per-call probing)', () => {
    const tracer = createMeshTracer();
    const exporter = new InMemorySpanExporter();
    const provider = new SdkTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    try {
      expect(tracer.startGoverned('r')).toBeUndefined();
      refreshTracing();
      tracer.startGoverned('r')?.end();
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['r']);
    } finally {
      trace.disable();
      refreshTracing();
    }
    expect(tracer.enabled).toBe(false);
  });
});

describe('MeshTracer with a provider passed in', () => {
  it('records through it without any global registration', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new SdkTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = createMeshTracer({ tracerProvider: provider });
    expect(tracer.enabled).toBe(true);
    tracer.startGoverned('r')?.end();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()[0]!.instrumentationScope.name).toBe('@meshless/tracing');
  });

  it('never throws into the caller when the provider or a span processor breaks', () => {
    const broken: TracerProvider = {
      getTracer: (): Tracer => ({
        startSpan: (): Span => {
          throw new Error('sampler bug');
        },
        startActiveSpan: () => {
          throw new Error('unused');
        },
      }),
    };
    const a = createMeshTracer({ tracerProvider: broken });
    expect(a.startClientCall('GET', 'catalog', '/x')).toBeUndefined();
    expect(a.governed('r', () => 5, undefined, [])).toBe(5);

    const throwing: SpanProcessor = {
      onStart: () => {},
      onEnd: () => {
        throw new Error('processor bug');
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const b = createMeshTracer({ tracerProvider: new SdkTracerProvider({ spanProcessors: [throwing] }) });
    const call = b.startClientCall('GET', 'catalog', '/x')!;
    const attempt = call.startAttempt(1, endpoint);
    expect(() => attempt.end(200)).not.toThrow();
    expect(() => call.end(200)).not.toThrow();
  });
});
