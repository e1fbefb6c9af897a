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

  private pending: T | undefined;
  private writing: Promise<void> | undefined;

  /**
   * Writes `value` in the background, off the caller's path; writes that pile up meanwhile are
   * coalesced so only the newest reaches the disk. `flush()` waits for it.
   */
  writeLater(value: T): void {
    this.pending = value;
    this.writing ??= this.drain();
  }

  /** Writes what is pending now (cutting the delay short) and resolves when it is on disk. */
  flush(): Promise<void> {
    this.wakeUp();
    return this.writing ?? Promise.resolve();
  }

  private wake: (() => void) | undefined;

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async drain(): Promise<void> {
    // A short delay coalesces bursts (a fleet of rule writes) into one disk write, off the hot moment.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeUp(), this.delayMs);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    while (this.pending !== undefined) {
      const value = this.pending;
      this.pending = undefined;
      const tmp = `${this.path}.${process.pid}.tmp`;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFile(tmp, JSON.stringify(value));
        await rename(tmp, this.path);
      } catch (error) {
        this.onError(error);
      }
    }
    this.writing = undefined;
  }

  write(value: T): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, JSON.stringify(value));
      renameSync(tmp, this.path);
    } catch (error) {
      this.onError(error);
    }
  }
}

/** Default cache folder: $MESHLESS_CACHE_DIR, else <tmpdir>/meshless-cache. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MESHLESS_CACHE_DIR || join(tmpdir(), 'meshless-cache');
}

/** A file name safe on every platform for a cache of `parts` (address, prefix, service...). */
export function cacheFileName(...parts: string[]): string {
  return `${parts.join('_').replace(/[^a-zA-Z0-9._-]+/g, '-')}.json`;
}
