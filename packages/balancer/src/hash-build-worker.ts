// The background builder's thread: fills ring-hash rings and Maglev tables (hash-tables.ts) and
// posts them back. Rings live in SharedArrayBuffers (read here, written once, then only read on
// the main thread), Maglev tables are transferred: no table is copied either way.
import { parentPort, workerData } from 'node:worker_threads';
import type { BuildReply, BuildRequest } from './hash-build-protocol.ts';
import { fillMaglev, fillRing } from './hash-tables.ts';

const port = parentPort;
const cancelled = (workerData as { cancelled: Int32Array }).cancelled;

function run(job: BuildRequest): BuildReply {
  if (job.kind === 'ring') {
    const hashes = new Uint32Array(new SharedArrayBuffer(job.entries * 4));
    const owners = new Uint32Array(new SharedArrayBuffer(job.entries * 4));
    const ok = fillRing(job.entries, job.freshIndex, job.freshIds, job.freshCounts, job.base, hashes, owners);
    return ok
      ? { id: job.id, kind: 'ring', hashes, owners }
      : { id: job.id, error: 'ring entries do not add up' };
  }
  const table = new Int32Array(job.size);
  fillMaglev(job.ids, job.weights, table);
  return { id: job.id, kind: 'maglev', table };
}

// Loaded (imports resolved): the host now knows this thread can build.
port?.postMessage({ ready: true });

port?.on('message', (job: BuildRequest) => {
  // A build superseded while it waited in the queue is skipped (its answer would be dropped).
  if (Atomics.load(cancelled, job.id % cancelled.length) === job.id) {
    port.postMessage({ id: job.id, error: 'cancelled' } satisfies BuildReply);
    return;
  }
  let reply: BuildReply;
  try {
    reply = run(job);
  } catch (e) {
    reply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply, 'table' in reply ? [reply.table.buffer as ArrayBuffer] : []);
});
