import type { Endpoint, Logger, Picker } from '@meshless/core';
import { endpoint, seededRandom } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { HashBuildHost, hashBuildHost } from './hash-build-host.ts';
import { BACKGROUND_MAGLEV_WORK, DEFAULT_MAGLEV_TABLE_SIZE, MaglevBalancer, MaglevPicker } from './maglev.ts';
import { BACKGROUND_RING_ENTRIES, POINTS_PER_WEIGHT, RingHashBalancer, RingHashPicker } from './ring-hash.ts';

// Large memberships (above the background thresholds) build their tables in the worker thread.
const RING_N = Math.ceil(BACKGROUND_RING_ENTRIES / POINTS_PER_WEIGHT) + 20; // 532 endpoints
const MAGLEV_N = Math.ceil(BACKGROUND_MAGLEV_WORK / DEFAULT_MAGLEV_TABLE_SIZE) + 10; // 266 endpoints
const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
const make = (n: number, prefix = 'ep') =>
  Array.from({ length: n }, (_, i) => endpoint(`${prefix}-${String(i).padStart(4, '0')}`));
const mapping = (p: Picker) => keys.map((hashKey) => p.pick({ hashKey })?.id);
const ringOf = (eps: readonly Endpoint[]) => new RingHashPicker(eps, {}, seededRandom(1));

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { debug: noop, info: noop, warn: (m) => warnings.push(m), error: noop, warnings };
}

const balancers: { dispose(): void }[] = [];
afterEach(async () => {
  for (const b of balancers.splice(0)) b.dispose();
  await hashBuildHost.whenStopped();
});
function ringBalancer(logger?: Logger): RingHashBalancer {
  const b = new RingHashBalancer({ random: seededRandom(3), logger });
  balancers.push(b);
  return b;
}
function maglevBalancer(): MaglevBalancer {
  const b = new MaglevBalancer({ random: seededRandom(3) });
  balancers.push(b);
  return b;
}

/** Starts a background build on `b` (n endpoints, then one change), disposes it mid-build: no picker, no thread. */
async function disposeMidBuild(b: RingHashBalancer | MaglevBalancer, n: number): Promise<void> {
  const eps = make(n);
  b.update(eps);
  b.update(eps.slice(7));
  const thread = hashBuildHost.thread!;
  expect(thread.threadId).toBeGreaterThan(0);
  b.dispose();
  await b.whenSettled();
  expect(b.picker.pick({ hashKey: 'k' })).toBeUndefined();
  expect(hashBuildHost.thread).toBeUndefined();
  await hashBuildHost.whenStopped();
  // Node lists no worker among active resources: the thread's own id says it has exited (-1).
  expect(thread.threadId).toBe(-1);
}

describe('ring-hash background build', () => {
  it('builds a small ring in place, as before', () => {
    const b = ringBalancer();
    const eps = make(20);
    b.update(eps);
    b.update(eps.slice(1));
    expect(b.picker).toBeInstanceOf(RingHashPicker);
    expect(hashBuildHost.thread).toBeUndefined();
  });

  it('serves the old ring without the leavers meanwhile, then lands the ring a full build makes', async () => {
    const b = ringBalancer();
    const eps = make(RING_N);
    b.update(eps); // the first ring: nothing to serve meanwhile, so built in place
    expect(b.picker).toBeInstanceOf(RingHashPicker);
    const gone = new Set([eps[3]!.id, eps[100]!.id, eps[400]!.id]);
    const stayed = eps.filter((ep) => !gone.has(ep.id));
    const next = [...stayed, endpoint('new-a'), endpoint('new-b')];
    b.update(next);
    const interim = b.picker;
    expect(interim).not.toBeInstanceOf(RingHashPicker);

    // Walking clockwise past a leaver's entries is where the new ring sends its keys: the
    // interim answers are exactly those of a ring without the leavers (and without the newcomers yet).
    const during = mapping(interim);
    for (const id of during) expect(gone.has(id!)).toBe(false);
    expect(during).toEqual(mapping(ringOf(stayed)));

    await b.whenSettled();
    const landed = b.picker as RingHashPicker;
    expect(landed).toBeInstanceOf(RingHashPicker);
    const full = ringOf(next);
    expect(landed.ringHashes).toEqual(full.ringHashes);
    expect(landed.ringOwners).toEqual(full.ringOwners);
    expect(landed.ringHashes.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Keys moved only to the newcomers; a layer that kept the interim picker now sees the new ring.
    const after = mapping(landed);
    for (let i = 0; i < keys.length; i++) {
      if (after[i] !== during[i]) expect(['new-a', 'new-b']).toContain(after[i]);
    }
    expect(after.some((id) => id === 'new-a' || id === 'new-b')).toBe(true);
    expect(mapping(interim)).toEqual(after);
  });

  it('never returns a leaver meanwhile, with a key, without one, and on a retry', () => {
    const b = ringBalancer();
    const eps = make(RING_N);
    b.update(eps);
    const owner = b.picker.pick({ hashKey: 'k' })!;
    const stays = eps.filter((ep) => ep !== owner);
    b.update(stays);
    const p = b.picker;
    expect(p).not.toBeInstanceOf(RingHashPicker);
    for (let i = 0; i < 2000; i++) expect(p.pick()!.id).not.toBe(owner.id);
    expect(p.pick({ hashKey: 'k' })!.id).not.toBe(owner.id);
    const second = p.pick({ hashKey: 'k' })!;
    const third = p.pick({ hashKey: 'k', exclude: new Set([second.id]) })!;
    expect([owner.id, second.id]).not.toContain(third.id);
    // Every live endpoint excluded by the caller: still a live one, never the leaver.
    const all = new Set(eps.map((ep) => ep.id));
    expect(p.pick({ hashKey: 'k', exclude: all })!.id).not.toBe(owner.id);
  });

  it('lets the last update win when updates overtake a build', async () => {
    const b = ringBalancer();
    const eps = make(RING_N);
    b.update(eps);
    const first = [...eps.slice(1), endpoint('new-1')];
    const second = [...eps.slice(2), endpoint('new-2')];
    const third = [...eps.slice(3), endpoint('new-3')];
    b.update(first);
    const interim = b.picker;
    b.update(second);
    b.update(third);
    expect(b.picker).toBe(interim); // one interim object while builds supersede each other
    for (const id of mapping(b.picker)) expect(id).not.toMatch(/^ep-000[0-2]$/);
    await b.whenSettled();
    const landed = b.picker as RingHashPicker;
    expect(landed.ringOwners).toEqual(ringOf(third).ringOwners);
    expect(landed.ringHashes).toEqual(ringOf(third).ringHashes);
    // Nothing older lands later: another build, queued behind the dropped ones, lands first.
    const other = ringBalancer();
    other.update(eps);
    other.update(eps.slice(9));
    await other.whenSettled();
    expect(b.picker).toBe(landed);
  });

  it('keeps serving and reports through the logger when the build fails, and recovers on the next update', async () => {
    const logger = recordingLogger();
    const b = ringBalancer(logger);
    const eps = make(RING_N);
    b.update(eps);
    b.update(eps.slice(1));
    await b.whenSettled(); // the thread is up
    const next = eps.slice(5);
    b.update(next);
    await hashBuildHost.thread!.terminate(); // the thread dies with the build in flight
    await b.whenSettled();
    expect(logger.warnings).toEqual([
      'balancer: background hash table build failed; keeping the previous table',
    ]);
    const held = b.picker;
    expect(mapping(held)).toEqual(mapping(ringOf(next))); // the old ring without the leavers is that ring
    b.update([...next, endpoint('new-z')]);
    expect(b.picker).toBe(held); // in the background again, on a new thread, with the same interim
    await b.whenSettled();
    expect((b.picker as RingHashPicker).ringOwners).toEqual(ringOf([...next, endpoint('new-z')]).ringOwners);
    expect(mapping(held)).toEqual(mapping(b.picker));
    expect(hashBuildHost.available).toBe(true);
  });

  it('is unavailable when its thread cannot start (the file missing), so builds happen in place', async () => {
    const host = new HashBuildHost(() => new URL('file:///nonexistent/hash-build-worker.js'));
    const release = host.acquire();
    expect(host.available).toBe(true);
    const job = host.run({ kind: 'maglev', ids: ['a'], weights: Float64Array.of(1), size: 7 });
    await expect(job.result).rejects.toThrow();
    expect(host.available).toBe(false);
    release();
    await host.whenStopped();
  });

  it('dispose during a build drops it and leaves no thread or handle behind', async () => {
    // Beside the test runner's own pipes: timers, immediates, ports.
    const open = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
    const before = open();
    await disposeMidBuild(new RingHashBalancer({ random: seededRandom(3) }), RING_N);
    // Nothing more of any kind than before (the runner's own timers may come and go).
    const count = (list: string[], kind: string) => list.filter((r) => r === kind).length;
    const after = open();
    for (const kind of after) expect(count(after, kind)).toBeLessThanOrEqual(count(before, kind));
  });
});

describe('Maglev background build', () => {
  it('builds a small table in place, as before', () => {
    const b = maglevBalancer();
    b.update(make(10));
    b.update(make(9));
    expect(b.picker).toBeInstanceOf(MaglevPicker);
  });

  it('serves the old table without the leavers meanwhile, then lands the table a full build makes', async () => {
    const b = maglevBalancer();
    const eps = make(MAGLEV_N);
    b.update(eps);
    const gone = new Set([eps[0]!.id, eps[42]!.id]);
    const next = [...eps.filter((ep) => !gone.has(ep.id)), endpoint('new-m')];
    b.update(next);
    const interim = b.picker;
    expect(interim).not.toBeInstanceOf(MaglevPicker);
    for (let i = 0; i < 2000; i++) expect(gone.has(interim.pick()!.id)).toBe(false);
    for (const id of mapping(interim)) expect(gone.has(id!)).toBe(false);
    await b.whenSettled();
    expect(b.picker).toBeInstanceOf(MaglevPicker);
    const full = new MaglevPicker(next, DEFAULT_MAGLEV_TABLE_SIZE, seededRandom(1));
    expect(mapping(b.picker)).toEqual(mapping(full));
    expect(mapping(interim)).toEqual(mapping(full));
  });

  it('dispose during a build leaves no thread behind', async () => {
    await disposeMidBuild(new MaglevBalancer({ random: seededRandom(3) }), MAGLEV_N);
  });
});
