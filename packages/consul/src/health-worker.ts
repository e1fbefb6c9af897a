// The discovery worker: runs health watches off the main thread. Each answer (the whole list,
// megabytes at 10 000 instances) is received, parsed and compared here; the main thread gets
// only what changed. Loaded as a worker by HealthWorkerHost, never imported.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { Endpoint } from '@meshless/core';
import { BlockingWatch } from './blocking-watch.ts';
import { ConsulConnection } from './connection.ts';
import { DiskCache } from './disk-cache.ts';
import { diffEndpoints } from './endpoint-delta.ts';
import { type CachedEndpoints, parseHealthServices, sameEndpoints } from './health-parse.ts';
import { type FromWorker, type HealthWorkerData, type ToWorker, toWire } from './health-worker-protocol.ts';

interface Running {
  readonly watch: BlockingWatch<readonly Endpoint[]>;
  readonly service: string;
  /** The list the main thread holds (what the next delta is relative to). */
  posted: readonly Endpoint[] | undefined;
  cache: { readonly disk: DiskCache<CachedEndpoints>; readonly file: string } | undefined;
}

const port = parentPort;
if (port === null) throw new Error('health-worker.ts runs as a worker thread');
const data = workerData as HealthWorkerData;
const connection = new ConsulConnection(data.consul);
const running = new Map<number, Running>();
const stopping = new Set<Promise<unknown>>();

function post(message: FromWorker): void {
  port!.postMessage(message);
}

function start(id: number, spec: Extract<ToWorker, { op: 'watch' }>['spec']): void {
  const parseOptions = { includeWarning: spec.includeWarning };
  const watch: BlockingWatch<readonly Endpoint[]> = new BlockingWatch<readonly Endpoint[]>({
    connection,
    path: spec.path,
    query: spec.query,
    parse: (res) => parseHealthServices(res.body, spec.service, spec.datacenter, parseOptions),
    equals: sameEndpoints,
    confirmAfterFailure: true,
    onChange: (endpoints) => {
      const state = running.get(id);
      if (state === undefined) return;
      const prev = state.posted;
      state.posted = endpoints;
      if (prev === undefined) post({ op: 'change', id, stats: watch.stats(), full: endpoints });
      else post({ op: 'change', id, stats: watch.stats(), ...diffEndpoints(prev, endpoints) });
      if (state.cache !== undefined) writeCache(state);
    },
    onAnswer: () => post({ op: 'answer', id, stats: watch.stats() }),
    onError: (error, info) => post({ op: 'error', id, stats: watch.stats(), error: toWire(error), ...info }),
    ...(spec.waitMs !== undefined ? { waitMs: spec.waitMs } : {}),
    ...(spec.backoff ? { backoff: spec.backoff } : {}),
    ...(spec.rateLimit ? { rateLimit: spec.rateLimit } : {}),
    ...(spec.stale ? { stale: true } : {}),
  });
  running.set(id, { watch, service: spec.service, posted: undefined, cache: undefined });
}

function writeCache(state: Running, datacenter?: string): void {
  const list = state.posted;
  // An empty list is never cached: in an outage a stale list beats none.
  if (state.cache === undefined || list === undefined || list.length === 0) return;
  state.cache.disk.writeLater({
    service: state.service,
    ...(datacenter ? { datacenter } : {}),
    endpoints: [...list],
  });
}

function stop(id: number): void {
  const state = running.get(id);
  if (state === undefined) return;
  running.delete(id);
  state.watch.dispose();
  const done = Promise.all([state.watch.done, state.cache?.disk.flush()]).finally(() => {
    stopping.delete(done);
    post({ op: 'stopped', id });
  });
  stopping.add(done);
}

port.on('message', (message: ToWorker) => {
  switch (message.op) {
    case 'watch':
      start(message.id, message.spec);
      break;
    case 'stop':
      stop(message.id);
      break;
    case 'cache': {
      const state = running.get(message.id);
      if (state === undefined) break;
      // One file per resolver: the datacenter it serves now writes it, a failover's other watch no longer.
      for (const other of running.values())
        if (other !== state && other.cache?.file === message.file) other.cache = undefined;
      if (state.cache?.file !== message.file) {
        const file = message.file;
        const disk = new DiskCache<CachedEndpoints>(file, (error) =>
          post({
            op: 'log',
            level: 'warn',
            message: 'endpoint cache unavailable',
            fields: { file, error: (error as Error)?.message },
          }),
        );
        state.cache = { disk, file };
      }
      writeCache(state, message.datacenter);
      break;
    }
    case 'heap':
      (globalThis as { gc?: () => void }).gc?.();
      post({ op: 'heap', usedBytes: getHeapStatistics().used_heap_size });
      break;
    case 'flush':
      void Promise.all([...running.values()].map((s) => s.cache?.disk.flush()))
        .catch(() => {})
        .then(() => post({ op: 'flushed' }));
      break;
  }
});
