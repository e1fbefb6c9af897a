import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A last-known-good copy on disk, so an instance that starts while Consul is down starts with
 * what it saw last. Writes are atomic (temp file + rename): a crash mid-write leaves the old
 * copy, never half a file. Reads and writes never throw; failures go to `onError`.
 */
export class DiskCache<T> {
  readonly path: string;
  private readonly onError: (error: unknown) => void;

  /** Delay of background writes (`writeLater`), so bursts coalesce. */
  readonly delayMs: number;

  constructor(path: string, onError: (error: unknown) => void = () => {}, delayMs = 250) {
    this.path = path;
    this.onError = onError;
    this.delayMs = delayMs;
  }

  read(): T | undefined {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(error);
      return undefined;
    }
  }

  /**
   * Writes `value` in the background, off the caller's path; writes that pile up meanwhile are
   * coalesced so only the newest reaches the disk. Caches of the same file in one process (several
   * meshes sharing a cache folder) share one queue: one write, never two racing on the temp file.
   * `flush()` waits for it.
   */
  writeLater(value: T): void {
    this.writeTextLater(() => JSON.stringify(value));
  }

  /**
   * Like writeLater, with the file's text made by `text()` when the write happens: of a burst,
   * only the newest is ever serialized. The text must be the JSON of a T (read() parses it).
   */
  writeTextLater(text: () => string): void {
    const writer = writerFor(this.path, this.delayMs);
    writer.pending = text;
    writer.onError = this.onError;
    writer.writing ??= drain(this.path, writer);
  }

  /** Writes what is pending now (cutting the delay short) and resolves when it is on disk. */
  flush(): Promise<void> {
    const writer = writers.get(this.path);
    if (!writer) return Promise.resolve();
    wakeUp(writer);
    return writer.writing ?? Promise.resolve();
  }

  write(value: T): void {
    const tmp = tempName(this.path);
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, JSON.stringify(value));
      renameSync(tmp, this.path);
    } catch (error) {
      this.onError(error);
    }
  }
}

/** The background write queue of one file. */
interface PathWriter {
  readonly delayMs: number;
  pending: (() => string) | undefined;
  writing: Promise<void> | undefined;
  wake: (() => void) | undefined;
  onError: (error: unknown) => void;
}

const writers = new Map<string, PathWriter>();
/** Folders this process made (or found) for its background writes. */
const madeDirs = new Set<string>();

function writerFor(path: string, delayMs: number): PathWriter {
  let writer = writers.get(path);
  if (!writer) {
    writer = { delayMs, pending: undefined, writing: undefined, wake: undefined, onError: () => {} };
    writers.set(path, writer);
  }
  return writer;
}

function wakeUp(writer: PathWriter): void {
  const wake = writer.wake;
  writer.wake = undefined;
  wake?.();
}

let tempSeq = 0;
/** A temp file of this process and write: concurrent writers never share one. */
function tempName(path: string): string {
  return `${path}.${process.pid}.${++tempSeq}.tmp`;
}

async function drain(path: string, writer: PathWriter): Promise<void> {
  // A short delay coalesces bursts (a fleet of rule writes) into one disk write, off the hot moment.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => wakeUp(writer), writer.delayMs);
    timer.unref();
    writer.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  while (writer.pending !== undefined) {
    const value = writer.pending;
    writer.pending = undefined;
    const tmp = tempName(path);
    const dir = dirname(path);
    try {
      const text = value();
      // The folder is made once per process (a rule change is one write per instance: fewer trips
      // to disk), and again if it went away meanwhile.
      if (!madeDirs.has(dir)) await mkdir(dir, { recursive: true });
      madeDirs.add(dir);
      await writeFile(tmp, text).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        await mkdir(dir, { recursive: true });
        await writeFile(tmp, text);
      });
      await rename(tmp, path);
    } catch (error) {
      writer.onError(error);
    }
  }
  writer.writing = undefined;
  writers.delete(path);
}

/** Default cache folder: $MESHLESS_CACHE_DIR, else <tmpdir>/meshless-cache. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MESHLESS_CACHE_DIR || join(tmpdir(), 'meshless-cache');
}

/** A file name safe on every platform for a cache of `parts` (address, prefix, service...). */
export function cacheFileName(...parts: string[]): string {
  return `${parts.join('_').replace(/[^a-zA-Z0-9._-]+/g, '-')}.json`;
}
