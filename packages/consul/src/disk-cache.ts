import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

  constructor(path: string, onError: (error: unknown) => void = () => {}) {
    this.path = path;
    this.onError = onError;
  }

  read(): T | undefined {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(error);
      return undefined;
    }
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
