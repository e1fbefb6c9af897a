import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Endpoint, type Logger, noopLogger } from '@meshless/core';
import type { WatchStats } from './blocking-watch.ts';
import type { ResolvedConsulOptions } from './connection.ts';
import {
  type FromWorker,
  fromWire,
  type HealthWatchSpec,
  type HealthWorkerData,
  type ToWorker,
} from './health-worker-protocol.ts';

/** What a watch running in the worker reports back (on the main thread). */
export interface WorkerWatchHandlers {
  onFull(endpoints: readonly Endpoint[]): void;
  onDelta(upserts: readonly Endpoint[], removed: readonly string[]): void;
  onError(error: Error, info: { failures: number; retryInMs: number }): void;
  /** Each accepted answer, changed or not. */
  onAnswer(): void;
}

/** A health watch running in the discovery worker. */
export interface WorkerWatch {
  stats(): WatchStats;
  /** Ask the worker to write this watch's list to the resolver's cache file (soon, off the main thread). */
  cacheTo(file: string, datacenter: string | undefined): void;
  dispose(): void;
  /** Resolves when the watch has stopped in the worker (its cache written). */
  readonly done: Promise<void>;
}

interface Entry {
  readonly spec: HealthWatchSpec;
  readonly handlers: WorkerWatchHandlers;
  stats: WatchStats;
  stopped: () => void;
}

const initialStats: WatchStats = {
  requests: 0,
  errors: 0,
  changes: 0,
  index: 0,
  failures: 0,
  lastError: undefined,
};
const RESTART_MS = 1000;

/**
 * One worker thread per Discovery, running every health watch that was moved off the main
 * thread. Started with the first watch, ended with the last; a worker that dies is started
 * again (after a second) with the same watches, which then deliver whole lists once more.
 */
export class HealthWorkerHost {
  private readonly consul: ResolvedConsulOptions;
  private readonly logger: Logger;
  private worker: Worker | undefined;
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;
  private restartTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  private readonly onStart: ((worker: Worker) => void) | undefined;

  constructor(
    consul: ResolvedConsulOptions,
    logger: Logger = noopLogger,
    /** Told of each worker started (its threadId, resource limits; tests end it to see a restart). */
    onStart?: (worker: Worker) => void,
  ) {
    this.consul = consul;
    this.logger = logger;
    this.onStart = onStart;
  }

  /** Watches running now. */
  get size(): number {
    return this.entries.size;
  }

  /** A worker thread is running. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private heapWaiters: ((bytes: number | undefined) => void)[] = [];

  /** The worker's heap in use, in bytes (undefined without a worker, or no answer within a second). */
  heapUsed(): Promise<number | undefined> {
    const worker = this.worker;
    if (worker === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), 1000);
      timer.unref();
      const done = (bytes: number | undefined) => {
        clearTimeout(timer);
        this.heapWaiters = this.heapWaiters.filter((w) => w !== done);
        resolve(bytes);
      };
      this.heapWaiters.push(done);
      worker.postMessage({ op: 'heap' } satisfies ToWorker);
    });
  }

  watch(spec: HealthWatchSpec, handlers: WorkerWatchHandlers): WorkerWatch {
    const id = this.nextId++;
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => {
      stopped = resolve;
    });
    const entry: Entry = { spec, handlers, stats: { ...initialStats }, stopped };
    if (this.disposed) {
      stopped();
    } else {
      this.entries.set(id, entry);
      this.send({ op: 'watch', id, spec });
    }
    return {
      stats: () => ({ ...entry.stats }),
      cacheTo: (file, datacenter) => {
        if (this.entries.has(id)) this.send({ op: 'cache', id, file, datacenter });
      },
      dispose: () => {
        if (!this.entries.has(id)) return;
        // Stopped when the worker says so (its cache flushed), or at once when there is no worker.
        if (this.worker === undefined) this.forget(id);
        else this.worker.postMessage({ op: 'stop', id } satisfies ToWorker);
      },
      done,
    };
  }

  /** Stops every watch; resolves when the worker has written its caches and ended. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    const pending = [...this.entries.keys()];
    if (worker !== undefined && pending.length > 0) {
      const all = Promise.all(pending.map((id) => this.doneOf(id)));
      for (const id of pending) worker.postMessage({ op: 'stop', id } satisfies ToWorker);
      await Promise.race([all, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    for (const id of [...this.entries.keys()]) this.forget(id);
    await this.terminate();
  }

  private doneOf(id: number): Promise<void> {
    const entry = this.entries.get(id);
    if (entry === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = entry.stopped;
      entry.stopped = () => {
        previous();
        resolve();
      };
    });
  }

  private send(message: ToWorker): void {
    (this.worker ?? this.startWorker())?.postMessage(message);
  }

  private startWorker(): Worker | undefined {
    if (this.disposed || this.restartTimer !== undefined) return undefined;
    const worker = new Worker(workerFile(), {
      workerData: { consul: this.consul } satisfies HealthWorkerData,
    });
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.receive(m));
    this.onStart?.(worker);
    worker.on('error', (error) =>
      this.logger.error('discovery worker failed; restarting it', { error: error?.message ?? String(error) }),
    );
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.disposed || this.entries.size === 0) return;
      // Died with watches running: tell them (they serve their last lists), then start over.
      for (const entry of this.entries.values()) {
        entry.stats = {
          ...entry.stats,
          failures: entry.stats.failures + 1,
          lastError: 'discovery worker exited',
        };
        entry.handlers.onError(new Error('discovery worker exited'), {
          failures: entry.stats.failures,
          retryInMs: RESTART_MS,
        });
      }
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        for (const [id, entry] of this.entries) this.send({ op: 'watch', id, spec: entry.spec });
      }, RESTART_MS);
    });
    return worker;
  }

  private receive(m: FromWorker): void {
    if (m.op === 'log') {
      this.logger.warn(m.message, m.fields);
      return;
    }
    if (m.op === 'flushed') return;
    if (m.op === 'heap') {
      for (const done of [...this.heapWaiters]) done(m.usedBytes);
      return;
    }
    const entry = this.entries.get(m.id);
    if (entry === undefined) return;
    if (m.op === 'stopped') {
      this.forget(m.id);
      if (this.entries.size === 0 && !this.disposed) void this.terminate();
      return;
    }
    entry.stats = m.stats;
    // A background loop never throws into user code, nor into the worker's message port.
    try {
      if (m.op === 'change') {
        if (m.full !== undefined) entry.handlers.onFull(m.full);
        else entry.handlers.onDelta(m.upserts ?? [], m.removed ?? []);
      } else if (m.op === 'answer') {
        entry.handlers.onAnswer();
      } else if (m.op === 'error') {
        entry.handlers.onError(fromWire(m.error), { failures: m.failures, retryInMs: m.retryInMs });
      }
    } catch (error) {
      this.logger.error('endpoint update failed', { error: (error as Error)?.message ?? String(error) });
    }
  }

  private forget(id: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.entries.delete(id);
    entry.stopped();
  }

  private async terminate(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }
}

/** The worker's file beside this module: built `.js` in dist/, the `.ts` source under tests. */
function workerFile(): URL {
  const base = typeof __dirname === 'string' ? pathToFileURL(`${__dirname}/`).href : import.meta.url;
  const built = new URL('./health-worker.js', base);
  return existsSync(built) ? built : new URL('./health-worker.ts', base);
}
