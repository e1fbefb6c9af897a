import type { ServerResponse } from 'node:http';
import { Server } from 'node:net';
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
  /** The servers requests came through (node sets `socket.server`), for stopAccepting(). */
  private readonly servers = new Set<Server>();
  /** Clock time of the last request refused (settling), for stopAccepting()'s quiet wait. */
  private lastRefusedAt = Number.NEGATIVE_INFINITY;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  get size(): number {
    return this.open.size;
  }

  /** A server made by the mesh (mesh.createServer): stopAccepting() closes it even before a request came. */
  adopt(server: Server): void {
    this.servers.add(server);
  }

  /**
   * Follows a response until it is done. false: the mesh is settling and has already answered it
   * 503 (`shutting_down`, `connection: close`); the adapter must not run the handler.
   */
  track(res: ServerResponse): boolean {
    const server = (res.socket as { server?: Server } | null)?.server;
    if (server !== undefined) this.servers.add(server);
    if (this.refusing) {
      this.lastRefusedAt = this.clock.now();
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

  /**
   * Before the process exits (handleSignals): once no request has been refused for `quietMs`,
   * so that callers still sending have had their 503, the servers requests came through stop
   * accepting (a later caller is refused a connection, never received and safe to retry, instead
   * of having one reset by the exit); resolves once their connections are closed. At most `ms` in all.
   */
  async stopAccepting(ms: number, quietMs = 100): Promise<void> {
    const servers = [...this.servers].filter((server) => server.listening);
    if (servers.length === 0) return;
    const until = this.clock.now() + ms;
    for (;;) {
      // Timers run before I/O in a loop turn: after a stall, let the connections and requests
      // that waited meanwhile be read (and refused) before judging the quiet.
      await turn();
      await turn();
      const quietFor = this.clock.now() - this.lastRefusedAt;
      const left = until - this.clock.now();
      if (quietFor >= quietMs || left <= 0) break;
      await this.wait(Math.min(quietMs - quietFor, left));
    }
    await new Promise<void>((resolve) => {
      let open = servers.length;
      const timer = this.clock.setTimeout(resolve, Math.max(0, until - this.clock.now()));
      const closed = () => {
        if (--open > 0) return;
        timer.cancel();
        resolve();
      };
      // net's close, not node:http's: that one also destroys connections whose request has not
      // been read yet, resetting them. These get their answer (a refusal) and end by themselves.
      for (const server of servers) Server.prototype.close.call(server, closed);
    });
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
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

/** One turn of the event loop, I/O included (setImmediate runs after the poll phase). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function ignore(): void {}
