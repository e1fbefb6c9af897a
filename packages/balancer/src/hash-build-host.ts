import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BuildJob, BuildReply } from './hash-build-protocol.ts';

type Result = Extract<BuildReply, { kind: string }>;

/** A build handed to the worker: its result, or a way to drop it. */
export interface PendingBuild {
  readonly result: Promise<Result>;
  /** Drops the result (and skips the build if it has not started). The promise then never settles. */
  cancel(): void;
}

interface Waiter {
  resolve(r: Result): void;
  reject(e: Error): void;
}

const CANCEL_SLOTS = 1024;

/**
 * One thread for every balancer of the process that builds large hash tables, started with the
 * first build and ended when the last balancer that used it is disposed (each `acquire()` is one
 * user). It is unref'd: a balancer nobody disposed never keeps the process alive. A thread that
 * fails rejects the builds in flight and is started again by the next build; one that never came
 * up (its file missing: the package bundled without it) makes `available` false, and balancers
 * then build in place, as without this thread.
 */
export class HashBuildHost {
  private worker: Worker | undefined;
  /** Set by the thread's first message, once its module loaded. */
  private everOnline = false;
  private startFailed = false;
  private readonly file: () => URL;
  private users = 0;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private cancelled = new Int32Array(new SharedArrayBuffer(CANCEL_SLOTS * 4));
  /** Threads started and not yet exited (a failed one may still be on its way out). */
  private readonly exiting = new Set<Promise<void>>();

  constructor(file: () => URL = workerFile) {
    this.file = file;
  }

  /** False once a thread failed before it ever came up: builds then happen in place. */
  get available(): boolean {
    return !this.startFailed;
  }

  acquire(): () => void {
    this.users++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) this.stop();
    };
  }

  /** Never throws: a thread that cannot start or a job that cannot be posted is a rejected result. */
  run(job: BuildJob): PendingBuild {
    const id = this.nextId++;
    const result = new Promise<Result>((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    try {
      this.start().postMessage({ ...job, id });
    } catch (e) {
      if (this.worker === undefined && !this.everOnline) this.startFailed = true;
      const waiter = this.waiters.get(id);
      this.waiters.delete(id);
      waiter?.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return {
      result,
      cancel: () => {
        if (!this.waiters.delete(id)) return;
        Atomics.store(this.cancelled, id % CANCEL_SLOTS, id);
      },
    };
  }

  /** @internal The thread, while one runs (tests end it to see a failed build handled). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** @internal Resolves once every thread stopped or failed so far has exited. */
  async whenStopped(): Promise<void> {
    await Promise.all(this.exiting);
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.file(), { workerData: { cancelled: this.cancelled } });
    worker.unref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.exiting.add(exited);
    void exited.then(() => this.exiting.delete(exited));
    worker.on('message', (reply: BuildReply | { ready: true }) => {
      if ('ready' in reply) {
        this.everOnline = true;
        return;
      }
      const waiter = this.waiters.get(reply.id);
      if (waiter === undefined) return;
      this.waiters.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(`background hash table build failed: ${reply.error}`));
      else waiter.resolve(reply);
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      if (!this.everOnline) this.startFailed = true;
      this.worker = undefined;
      const waiting = [...this.waiters.values()];
      this.waiters.clear();
      for (const w of waiting) w.reject(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`background hash table builder exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private stop(): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const w of this.waiters.values()) w.reject(new Error('background hash table builder stopped'));
    this.waiters.clear();
    void worker?.terminate();
  }
}

/** @internal The process's background builder. */
export const hashBuildHost = new HashBuildHost();

function workerFile(): URL {
  const base = typeof __dirname === 'string' ? pathToFileURL(`${__dirname}/`).href : import.meta.url;
  const built = new URL('./hash-build-worker.js', base);
  return existsSync(built) ? built : new URL('./hash-build-worker.ts', base);
}
