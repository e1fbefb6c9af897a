import type { ServerResponse } from 'node:http';
import { type Clock, SHED_HEADER, systemClock } from '@meshless/core';

/**
 * The inbound requests this instance is still answering (every adapter tracks its responses), so
 * that shutting down answers each of them instead of cutting it off. Shutting down has two
 * phases: draining (new requests are still served, with `connection: close` so callers drop
 * their kept-alive sockets) and settling (new requests are refused with a 503 at once).
 */
export class InFlightRequests {
  private readonly open = new Set<ServerResponse>();
  private emptied: (() => void) | undefined;
  private readonly clock: Clock;
  private draining = false;
  private refusing = false;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Follows a response until it is done. false: the mesh is settling and has already answered it
   * 503 (`shutting_down`, `connection: close`); the adapter must not run the handler.
   */
  track(res: ServerResponse): boolean {
    if (this.refusing) {
      answerShuttingDown(res);
      return false;
    }
    if (res.writableEnded || this.open.has(res)) return true;
    // Served in full, but the caller opens a new connection next time (to an instance still listed).
    if (this.draining && !res.headersSent) res.setHeader('connection', 'close');
    this.open.add(res);
    // A server response emits 'close' once it is done, finished or cut off: one listener is enough.
    res.once('close', () => {
      this.open.delete(res);
      if (this.open.size === 0) this.emptied?.();
    });
    return true;
  }

  /** The instance is leaving discovery: requests still arrive and are served, each on its last connection. */
  drain(): void {
    this.draining = true;
  }

  /**
   * Gives the requests in flight up to `graceMs` to finish. Each one still running then is answered
   * 503 with `connection: close` (one whose answer had already started is cut, so its caller sees
   * a failure rather than a truncated body), and this resolves once those answers are written (at
   * most `flushMs` more). Resolves with the number of requests that did not finish in time.
   */
  async settle(graceMs: number, flushMs = 1000): Promise<number> {
    // Callers had the drain to see this instance leave: one that still arrives is answered at once.
    this.draining = true;
    this.refusing = true;
    if (this.open.size > 0 && graceMs > 0) await this.idleWithin(graceMs);
    const left = [...this.open];
    if (left.length === 0) return 0;
    for (const res of left) {
      // The handler goes on and may still write: its late writes must not throw into the process.
      res.on('error', ignore);
      if (res.headersSent) {
        res.destroy();
        continue;
      }
      answerShuttingDown(res);
    }
    if (this.open.size > 0) await this.idleWithin(flushMs);
    return left.length;
  }

  private idleWithin(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => finish(), ms);
      const finish = () => {
        timer.cancel();
        this.emptied = undefined;
        resolve();
      };
      this.emptied = finish;
      if (this.open.size === 0) finish();
    });
  }
}

/** 503 with `connection: close` and `retry-after`: the caller may retry on another instance at once. */
function answerShuttingDown(res: ServerResponse): void {
  res.writeHead(503, {
    'content-type': 'application/json',
    connection: 'close',
    'retry-after': '1',
    [SHED_HEADER]: 'shutting_down',
  });
  res.end(SHUTTING_DOWN);
}

const SHUTTING_DOWN = JSON.stringify({ error: 'shutting_down' });

function ignore(): void {}
