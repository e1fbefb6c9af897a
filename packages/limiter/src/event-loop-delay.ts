import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Disposable } from '@meshless/core';

/** Returns the event-loop delay since the previous call, ms. */
export type EventLoopDelaySampler = () => number;

export interface EventLoopDelayMonitor extends Disposable {
  readonly sample: EventLoopDelaySampler;
}

/**
 * The default overload signal: p99 of `perf_hooks.monitorEventLoopDelay` since the last sample.
 * The histogram is created on the first sample (a process that never asks pays nothing) and
 * disabled on dispose.
 */
export function eventLoopDelayMonitor(resolutionMs = 10): EventLoopDelayMonitor {
  let histogram: ELDHistogram | undefined;
  let disposed = false;
  return {
    sample() {
      if (disposed) return 0;
      if (!histogram) {
        histogram = monitorEventLoopDelay({ resolution: resolutionMs });
        histogram.enable();
        return 0;
      }
      const ms = histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0;
      histogram.reset();
      return ms;
    },
    dispose() {
      disposed = true;
      histogram?.disable();
      histogram = undefined;
    },
  };
}
