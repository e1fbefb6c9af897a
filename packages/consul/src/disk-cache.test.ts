import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheFileName, DiskCache } from './disk-cache.ts';

const folder = () => mkdtempSync(join(tmpdir(), 'meshless-disk-cache-'));

describe('DiskCache', () => {
  it('writes in the background, coalescing a burst into the newest value', async () => {
    const dir = folder();
    const cache = new DiskCache<{ v: number }>(join(dir, 'sub', 'rules.json'));
    for (let v = 1; v <= 50; v++) cache.writeLater({ v });
    expect(readdirSync(dir)).toEqual([]); // nothing yet: the caller's moment is not spent on the disk
    await cache.flush();
    expect(cache.read()).toEqual({ v: 50 });
    expect(readdirSync(join(dir, 'sub'))).toEqual(['rules.json']); // no temp file left behind
  });

  it('shares one queue between caches of the same file, so they never race on it', async () => {
    const dir = folder();
    const path = join(dir, cacheFileName('127.0.0.1:8500', 'meshless', 'kv'));
    const caches = Array.from({ length: 20 }, () => new DiskCache<{ from: number }>(path));
    caches.forEach((cache, i) => {
      cache.writeLater({ from: i });
    });
    await Promise.all(caches.map((c) => c.flush()));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ from: 19 });
    expect(readdirSync(dir)).toHaveLength(1);
    // Later writes start a new round.
    caches[3]!.writeLater({ from: 3 });
    await caches[0]!.flush();
    expect(caches[7]!.read()).toEqual({ from: 3 });
  });

  it('reports failures to onError and never throws', async () => {
    const dir = folder();
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'not a folder');
    const errors: unknown[] = [];
    const cache = new DiskCache<{ v: number }>(join(blocker, 'rules.json'), (e) => errors.push(e));
    cache.writeLater({ v: 1 });
    await cache.flush();
    cache.write({ v: 2 });
    expect(cache.read()).toBeUndefined();
    // The background write, the direct write and the read each report theirs (EEXIST or ENOTDIR).
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(['EEXIST', 'ENOTDIR']).toContain((e as NodeJS.ErrnoException).code);
    // A missing file is not an error: there is simply no copy yet.
    expect(new DiskCache(join(dir, 'none.json'), (e) => errors.push(e)).read()).toBeUndefined();
    expect(errors).toHaveLength(3);
  });
});

describe('DiskCache text writes', () => {
  it('makes the text only for the newest of a burst, and makes the folder again when it went away', async () => {
    const dir = folder();
    const cache = new DiskCache<{ v: number }>(join(dir, 'sub', 'rules.json'));
    const made: number[] = [];
    for (let v = 1; v <= 5; v++)
      cache.writeTextLater(() => {
        made.push(v);
        return JSON.stringify({ v });
      });
    await cache.flush();
    expect(made).toEqual([5]);
    expect(cache.read()).toEqual({ v: 5 });
    rmSync(join(dir, 'sub'), { recursive: true });
    cache.writeLater({ v: 6 });
    await cache.flush();
    expect(cache.read()).toEqual({ v: 6 });
  });
});
