import type { ConsulConnection } from '@meshless/consul';
import type { Clock, TimerHandle } from '@meshless/core';

export interface LockOptions {
  /** Session TTL, ms (Consul: 10 s to 24 h; it may keep a dead session up to twice this). Default 10 000. */
  readonly ttlMs?: number;
  /** Consul's lock-delay after the session dies, ms. Default 1 000. */
  readonly lockDelayMs?: number;
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * One controller per service: a Consul session (TTL, behavior release) holding `?acquire=` on the
 * state key. Renewed every TTL/3; `lost` turns true when Consul no longer knows the session or no
 * renewal succeeded for a whole TTL, and the holder must stop writing. Every write of the state
 * goes through `write`, which re-asserts the lock, so a holder that lost it cannot write.
 */
export class SessionLock {
  private readonly connection: ConsulConnection;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly lockDelayMs: number;
  private readonly key: string;
  private sessionId: string | undefined;
  private timer: TimerHandle | undefined;
  private lastRenewed = 0;
  private stopped = false;
  /** What the key holds: a release PUT replaces the value with its body, so it sends this again. */
  private lastValue = '';
  lost = false;

  constructor(connection: ConsulConnection, key: string, clock: Clock, options: LockOptions = {}) {
    this.connection = connection;
    this.key = key;
    this.clock = clock;
    this.ttlMs = Math.max(10_000, options.ttlMs ?? 10_000);
    this.lockDelayMs = Math.max(0, options.lockDelayMs ?? 1_000);
  }

  get session(): string | undefined {
    return this.sessionId;
  }

  /** Creates the session and tries to acquire the key with `value`; false when someone else holds it. */
  async acquire(name: string, value: string): Promise<boolean> {
    if (!this.sessionId) {
      const created = await this.connection.json<{ ID: string }>({
        method: 'PUT',
        path: '/v1/session/create',
        body: JSON.stringify({
          Name: name,
          TTL: `${Math.ceil(this.ttlMs / 1000)}s`,
          Behavior: 'release',
          LockDelay: `${Math.ceil(this.lockDelayMs / 1000)}s`,
        }),
      });
      this.sessionId = created.ID;
      this.lastRenewed = this.clock.now();
      this.scheduleRenew();
    }
    return this.write(value);
  }

  /** Writes the key while holding the lock; false when the lock is not (or no longer) ours. */
  async write(value: string): Promise<boolean> {
    if (!this.sessionId || this.lost || this.stopped) return false;
    const ok = await this.connection.json<boolean>({
      method: 'PUT',
      path: kvPath(this.key),
      query: { acquire: this.sessionId },
      body: value,
    });
    if (ok === true) this.lastValue = value;
    return ok === true;
  }

  private scheduleRenew(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.renew(), Math.floor(this.ttlMs / 3));
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.sessionId) return;
    try {
      const res = await this.connection.request({
        method: 'PUT',
        path: `/v1/session/renew/${encodeURIComponent(this.sessionId)}`,
        timeoutMs: Math.floor(this.ttlMs / 3),
      });
      if (res.status === 404) this.lost = true;
      else if (res.status === 200) this.lastRenewed = this.clock.now();
    } catch {
      // Unreachable for a moment: retried at the next beat; lost once a whole TTL went by.
    }
    if (this.clock.now() - this.lastRenewed >= this.ttlMs) this.lost = true;
    if (!this.lost) this.scheduleRenew();
  }

  /** Stops renewing without releasing: as if the process died (the TTL frees the lock). */
  abandon(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Releases the lock (the state stays) and destroys the session. Never throws. */
  async release(): Promise<void> {
    const id = this.sessionId;
    this.abandon();
    if (!id) return;
    try {
      await this.connection.request({
        method: 'PUT',
        path: kvPath(this.key),
        query: { release: id },
        body: this.lastValue,
      });
    } catch {}
    try {
      await this.connection.request({ method: 'PUT', path: `/v1/session/destroy/${encodeURIComponent(id)}` });
    } catch {}
  }
}
