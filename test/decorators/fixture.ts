// One class, compiled twice by the decorator test: with TypeScript 5 standard decorators
// (tsconfig.standard.json) and with experimentalDecorators (tsconfig.legacy.json, as NestJS).
// Imports the sources relatively, so the compiled copy runs on plain Node with no bundler.
import { ManualClock } from '@meshless/core/testing';
import {
  bulkhead,
  circuitBreaker,
  fallback,
  governed,
  idempotent,
  rateLimit,
  retry,
  timeout,
} from '../../packages/meshless/src/decorators/index.ts';
import type { Governor } from '../../packages/meshless/src/governance/index.ts';

/** Drives every timer of the fixture (the local governor runs on it too). */
export const clock = new ManualClock();

const wait = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));

export class Inventory {
  readonly owner: string;
  calls = 0;

  constructor(owner: string) {
    this.owner = owner;
  }

  @timeout(50)
  async slow(ms: number): Promise<string> {
    await wait(ms);
    return `${this.owner} waited ${ms}`;
  }

  @retry({ attempts: 3, backoff: { baseMs: 0, maxMs: 0 } })
  async flaky(failures: number): Promise<string> {
    this.calls++;
    if (this.calls <= failures) throw new Error(`flaky failure ${this.calls}`);
    return `${this.owner} ok after ${this.calls}`;
  }

  @timeout(100)
  syncThrow(value: string): Promise<string> {
    throw new TypeError(`sync ${value}`);
  }

  // The same three decorators in two orders: the stack is fallback > retry > timeout for both.
  @fallback('from fallback')
  @retry({ attempts: 2, backoff: { baseMs: 0, maxMs: 0 } })
  @timeout(20)
  async hangA(): Promise<string> {
    this.calls++;
    await wait(1000);
    return 'never';
  }

  @timeout(20)
  @retry({ attempts: 2, backoff: { baseMs: 0, maxMs: 0 } })
  @fallback('from fallback')
  async hangB(): Promise<string> {
    this.calls++;
    await wait(1000);
    return 'never';
  }

  @circuitBreaker({ volume: 2, errorPercent: 50, openMs: 10_000 })
  @bulkhead({ maxConcurrent: 1, maxQueue: 0 })
  @rateLimit({ perSecond: 1000 })
  @idempotent()
  async guarded(fail: boolean): Promise<string> {
    if (fail) throw new Error('guarded failure');
    return 'guarded ok';
  }
}

/** A class whose method follows the rules of `governor` (resource `fixture.lookup`). */
export function governedInventory(governor: Governor) {
  class GovernedInventory {
    @governed(governor, 'fixture.lookup', {
      timeoutMs: 200,
      fallback: (cause: unknown) => `fallback: ${String(cause)}`,
    })
    async lookup(ms: number): Promise<string> {
      await wait(ms);
      return `found after ${ms}`;
    }
  }
  return GovernedInventory;
}
