import { hostname, networkInterfaces } from 'node:os';
import {
  type Clock,
  ConfigError,
  ConsulError,
  ConsulPermissionError,
  Emitter,
  type Event,
  type Logger,
  noopLogger,
  type Random,
  sleep,
  systemClock,
  systemRandom,
  type TimerHandle,
} from '@meshless/core';
import { type ConsulConnection, statusError } from './connection.ts';

/**
 * What registration needs of a connection (a ConsulConnection, or a stand-in in tests); without
 * `whenAnswering` a failed heartbeat waits for the next one.
 */
export type AgentConnection = Pick<ConsulConnection, 'request'> &
  Partial<Pick<ConsulConnection, 'whenAnswering'>>;

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface ServiceDefinition {
  name: string;
  /** Default: `<name>-<hostname>-<port>-<6 random hex>`, unique per process. */
  id?: string;
  /** Default: the host's first non-internal IPv4, else 127.0.0.1. */
  address?: string;
  port: number;
  tags?: readonly string[];
  meta?: Readonly<Record<string, string>>;
  /** Copied into meta (`version`, `zone`, `region`, `weight`) for subsets and locality. */
  version?: string;
  zone?: string;
  region?: string;
  /** Consul `Weights.Passing` (integer >= 1). Default 1. */
  weight?: number;
}

export interface ServiceRegistrationOptions {
  connection: AgentConnection;
  service: ServiceDefinition;
  /** TTL of the heartbeat check; a heartbeat goes out every ttlMs / 3. Default 10 000. */
  ttlMs?: number;
  /** Consul reaps the instance after its heartbeat check is critical this long. Default and minimum 60 000. */
  deregisterCriticalAfterMs?: number;
  /** An HTTP check run by the agent, besides the heartbeat. */
  httpCheck?: { url: string; intervalMs?: number; timeoutMs?: number };
  /**
   * TTL checks whose status the owner sets with `updateCheck()` (e.g. a governance check). `id` is
   * the Consul CheckID as is (agent-wide: include the service id). The heartbeat refreshes them
   * with their last status, so one that is rarely updated never expires. Note that a `warning`
   * takes the instance out of `?passing` answers.
   */
  extraChecks?: readonly { id: string; name: string; notes?: string }[];
  /**
   * Register as a Connect-native service (`Connect: { Native: true }`): Consul and its UI show it
   * in the mesh, and callers that find it in discovery call it over mutual TLS.
   */
  connectNative?: boolean;
  logger?: Logger;
  clock?: Clock;
  /** For the default id's suffix. */
  random?: Random;
}

export interface RegistrationStatus {
  readonly id: string;
  readonly registered: boolean;
  readonly draining: boolean;
  readonly heartbeats: number;
  /** Failed agent requests (heartbeats, registrations, check updates) since start. */
  readonly failures: number;
  readonly reregistrations: number;
  readonly lastError: string | undefined;
}

export interface ReregisterEvent {
  readonly id: string;
  /** Why: what the agent answered to the heartbeat or check update. */
  readonly reason: string;
}

type Outcome = 'ok' | 'forgot' | 'rejected' | 'failed';

interface ExtraCheck {
  readonly id: string;
  readonly name: string;
  readonly notes: string;
  status: CheckStatus;
  output: string;
}

const HEARTBEAT_OUTPUT = 'meshless heartbeat';
const MIN_DEREGISTER_MS = 60_000;
const META_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Registers this instance in the local Consul agent with a TTL heartbeat, and keeps it there:
 * when the agent forgets the service (restart, dev mode), the next heartbeat registers it again.
 * Background failures are logged and counted, never thrown. Checks start `passing`, so a new
 * instance takes traffic at once.
 */
export class ServiceRegistration {
  readonly id: string;
  /** CheckID of the heartbeat: `service:<id>`. */
  readonly checkId: string;
  private readonly connection: AgentConnection;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly definition: Record<string, unknown>;
  private readonly fixedChecks: Record<string, unknown>[];
  private readonly extra = new Map<string, ExtraCheck>();
  private readonly requestTimeoutMs: number;
  private readonly reregistered = new Emitter<ReregisterEvent>();
  private readonly stopController = new AbortController();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private started: Promise<void> | undefined;
  private drained: Promise<void> | undefined;
  private deregistered: Promise<void> | undefined;
  private everRegistered = false;
  private streak = 0;
  private state = { registered: false, draining: false, heartbeats: 0, failures: 0, reregistrations: 0 };
  private lastError: string | undefined;
  /** The permission a 403 named, kept so a refused start() rejects with the typed error. */
  private deniedPermission: string | undefined;

  /** Fires after the registration was restored because the agent had lost it. */
  readonly onDidReregister: Event<ReregisterEvent> = this.reregistered.event;

  constructor(options: ServiceRegistrationOptions) {
    const s = options.service;
    this.connection = options.connection;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.ttlMs = positive(options.ttlMs ?? 10_000, 'ttlMs');
    this.requestTimeoutMs = Math.max(1000, Math.min(5000, this.ttlMs));
    const reapAfter = `${deregisterAfter(options.deregisterCriticalAfterMs)}ms`;
    const { meta, weight } = validateService(s);
    this.id = s.id ?? defaultServiceId(s.name, s.port, options.random ?? systemRandom);
    this.checkId = `service:${this.id}`;
    this.fixedChecks = [
      {
        CheckID: this.checkId,
        Name: `${s.name} heartbeat`,
        Notes: `meshless TTL heartbeat every ${Math.round(this.ttlMs / 3)} ms`,
        TTL: `${this.ttlMs}ms`,
        Status: 'passing',
        DeregisterCriticalServiceAfter: reapAfter,
      },
    ];
    if (options.httpCheck) {
      const intervalMs = positive(options.httpCheck.intervalMs ?? 10_000, 'httpCheck.intervalMs');
      const timeoutMs = positive(
        options.httpCheck.timeoutMs ?? Math.min(intervalMs, 5000),
        'httpCheck.timeoutMs',
      );
      this.fixedChecks.push({
        CheckID: `${this.checkId}:http`,
        Name: `${s.name} HTTP`,
        HTTP: options.httpCheck.url,
        Interval: `${intervalMs}ms`,
        Timeout: `${timeoutMs}ms`,
        Status: 'passing',
        DeregisterCriticalServiceAfter: reapAfter,
      });
    }
    for (const c of options.extraChecks ?? []) {
      if (!c.id || this.extra.has(c.id) || this.fixedChecks.some((f) => f.CheckID === c.id))
        throw new ConfigError(`extraChecks: id ${JSON.stringify(c.id)} is empty, taken or repeated`, {
          path: 'extraChecks',
        });
      this.extra.set(c.id, { id: c.id, name: c.name, notes: c.notes ?? '', status: 'passing', output: '' });
    }
    this.definition = {
      ID: this.id,
      Name: s.name,
      Address: s.address ?? defaultServiceAddress(),
      Port: s.port,
      Tags: [...(s.tags ?? [])],
      Meta: meta,
      Weights: { Passing: weight, Warning: 1 },
    };
    if (options.connectNative) this.definition.Connect = { Native: true };
  }

  /**
   * Registers and starts the heartbeat. Rejects only when the agent refuses the definition (4xx:
   * invalid, or denied by ACL); when the agent is unreachable it resolves and keeps trying.
   */
  start(): Promise<void> {
    this.started ??= this.enqueue(async () => {
      if (this.stopController.signal.aborted) return;
      const outcome = await this.register();
      // A refused definition will be refused again: no heartbeat loop for it.
      if (outcome === 'rejected') {
        const message = `register ${this.id}: ${this.lastError}`;
        if (this.deniedPermission !== undefined)
          throw new ConsulPermissionError(message, this.deniedPermission);
        throw new ConsulError(message, { retryable: false });
      }
      this.schedule();
    });
    return this.started;
  }

  /** Sets an extra check's status. Never throws: false when the agent could not be told (yet). */
  updateCheck(checkId: string, status: CheckStatus, output: string): Promise<boolean> {
    const check = this.extra.get(checkId);
    if (!check || (status !== 'passing' && status !== 'warning' && status !== 'critical')) {
      this.logger.warn('updateCheck: unknown check or status', { service: this.id, checkId, status });
      return Promise.resolve(false);
    }
    check.status = status;
    check.output = output;
    // Before the first registration the status is simply registered with the check.
    if (!this.started || this.stopController.signal.aborted) return Promise.resolve(false);
    return this.enqueue(async () => {
      if (!this.state.registered) return false;
      const outcome = await this.updateTtl(check.id, status, output);
      if (outcome === 'forgot') return (await this.reregister(this.lastError ?? 'check unknown')) === 'ok';
      return outcome === 'ok';
    }).catch(() => false);
  }

  /**
   * First step of a graceful shutdown: maintenance mode (out of `?passing` within about a
   * second), no more heartbeats, then waits `drainMs` on the clock while callers finish.
   */
  drain(options: { drainMs: number; reason?: string }): Promise<void> {
    this.drained ??= (async () => {
      this.state.draining = true;
      this.timer?.cancel();
      this.answering?.abort();
      await this.enqueue(async () => {
        if (!this.state.registered) return;
        const path = `/v1/agent/service/maintenance/${encodeURIComponent(this.id)}`;
        const query = { enable: 'true', reason: options.reason ?? 'meshless: draining' };
        // 404: the agent has no such service, so there is nothing to take out of rotation.
        const res = await this.call('PUT', path, query, undefined, true);
        if (res === 'ok' || res === 'forgot') return;
        await this.updateTtl(this.checkId, 'critical', 'meshless: draining');
      }).catch(() => {});
      await sleep(options.drainMs, this.stopController.signal, this.clock).catch(() => {});
    })();
    return this.drained;
  }

  /** Removes the instance from Consul (errors are logged: the TTL then expires and Consul reaps it). */
  deregister(): Promise<void> {
    this.deregistered ??= (async () => {
      this.dispose();
      await this.enqueue(async () => {
        if (!this.started) return;
        const path = `/v1/agent/service/deregister/${encodeURIComponent(this.id)}`;
        const res = await this.call('PUT', path, undefined, undefined, true);
        if (res === 'ok' || res === 'forgot') this.state.registered = false;
        else
          this.logger.warn('deregister failed; Consul reaps the instance after its TTL', {
            service: this.id,
          });
      }).catch(() => {});
    })();
    return this.deregistered;
  }

  /** Stops heartbeating without deregistering (the TTL check then goes critical). Idempotent. */
  dispose(): void {
    if (this.stopController.signal.aborted) return;
    this.stopController.abort();
    this.timer?.cancel();
    this.timer = undefined;
    this.reregistered.dispose();
  }

  status(): RegistrationStatus {
    return { id: this.id, ...this.state, lastError: this.lastError };
  }

  private schedule(): void {
    if (this.stopController.signal.aborted || this.state.draining) return;
    const fire = () => {
      this.timer?.cancel();
      this.timer = undefined;
      this.answering?.abort();
      this.answering = undefined;
      void this.enqueue(() => this.beat()).then(
        () => this.schedule(),
        () => this.schedule(),
      );
    };
    this.timer = this.clock.setTimeout(fire, this.ttlMs / 3);
    if (this.streak === 0 || this.connection.whenAnswering === undefined) return;
    // The last beat failed: beat again as soon as the agent answers. An agent back from a long
    // outage restores the checks as critical, and the instance is out of discovery until then.
    const answering = new AbortController();
    this.answering = answering;
    const stop = () => answering.abort();
    this.stopController.signal.addEventListener('abort', stop, { once: true });
    this.connection.whenAnswering(answering.signal).then(
      () => {
        this.stopController.signal.removeEventListener('abort', stop);
        if (this.answering === answering && !this.state.draining) fire();
      },
      () => this.stopController.signal.removeEventListener('abort', stop),
    );
  }

  /** While a beat failed: the wait for the agent to answer again (ends the wait for the timer). */
  private answering: AbortController | undefined;

  private async beat(): Promise<void> {
    if (this.stopController.signal.aborted || this.state.draining) return;
    if (!this.state.registered) {
      await (this.everRegistered ? this.reregister(this.lastError ?? 'not registered') : this.register());
      return;
    }
    const outcome = await this.updateTtl(this.checkId, 'passing', HEARTBEAT_OUTPUT);
    if (outcome === 'forgot') {
      await this.reregister(this.lastError ?? 'check unknown');
      return;
    }
    if (outcome !== 'ok') return;
    this.state.heartbeats++;
    for (const c of this.extra.values()) {
      if ((await this.updateTtl(c.id, c.status, c.output)) === 'forgot') {
        await this.reregister(this.lastError ?? 'check unknown');
        return;
      }
    }
  }

  private async reregister(reason: string): Promise<Outcome> {
    if (this.stopController.signal.aborted || this.state.draining) return 'failed';
    const outcome = await this.register();
    if (outcome === 'ok') {
      this.state.reregistrations++;
      this.logger.info('service registered again', { service: this.id, reason });
      this.reregistered.fire({ id: this.id, reason });
    }
    return outcome;
  }

  private async register(): Promise<Outcome> {
    const extra = [...this.extra.values()].map((c) => ({
      CheckID: c.id,
      Name: c.name,
      Notes: c.notes,
      TTL: `${this.ttlMs}ms`,
      Status: c.status,
    }));
    const body = JSON.stringify({ ...this.definition, Checks: [...this.fixedChecks, ...extra] });
    const outcome = await this.call('PUT', '/v1/agent/service/register', undefined, body);
    this.state.registered = outcome === 'ok';
    if (outcome !== 'ok') return outcome;
    this.everRegistered = true;
    // A first heartbeat at once: the agent saves a TTL check's state only on an update, and restores
    // one without a saved state as critical, so an agent restart before the first timed heartbeat
    // (ttlMs / 3) took a healthy instance out of discovery until it came.
    await this.updateTtl(this.checkId, 'passing', HEARTBEAT_OUTPUT);
    // Consul 1.8 does not accept Output in a check definition; set it right after.
    for (const c of this.extra.values()) if (c.output) await this.updateTtl(c.id, c.status, c.output);
    return outcome;
  }

  private updateTtl(checkId: string, status: CheckStatus, output: string): Promise<Outcome> {
    return this.call(
      'PUT',
      `/v1/agent/check/update/${encodeURIComponent(checkId)}`,
      undefined,
      JSON.stringify({ Status: status, Output: output }),
    );
  }

  /** One agent request, classified; never throws. 404/500 on an update mean the agent forgot us. */
  private async call(
    method: 'PUT',
    path: string,
    query?: Record<string, string | boolean>,
    body?: string,
    goneIsOk = false,
  ): Promise<Outcome> {
    try {
      const res = await this.connection.request({
        method,
        path,
        ...(query ? { query } : {}),
        ...(body === undefined ? {} : { body }),
        timeoutMs: this.requestTimeoutMs,
      });
      if (goneIsOk && res.status === 404) return 'forgot';
      if (res.status >= 200 && res.status < 300) {
        if (this.streak > 0) this.logger.info('consul agent reachable again', { service: this.id });
        this.streak = 0;
        return 'ok';
      }
      // statusError's message: a 403 names the ACL permission the token lacks.
      const error = statusError({ method, path, ...(body === undefined ? {} : { body }) }, res);
      this.deniedPermission = error instanceof ConsulPermissionError ? error.permission : undefined;
      this.fail(error.message);
      if (res.status === 404 || res.status === 500) return 'forgot';
      return res.status >= 400 && res.status < 500 && res.status !== 429 ? 'rejected' : 'failed';
    } catch (error) {
      this.fail((error as Error)?.message ?? String(error));
      return 'failed';
    }
  }

  private fail(message: string): void {
    this.state.failures++;
    this.lastError = message;
    // The first failure of a streak is worth a warning; the rest would only repeat it.
    if (this.streak++ === 0)
      this.logger.warn('consul agent request failed', { service: this.id, error: message });
    else this.logger.debug('consul agent request failed', { service: this.id, error: message });
  }

  /** Agent operations run one at a time, so a deregister never races a re-registration. */
  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => {});
    return next;
  }
}

/** `<name>-<hostname>-<port>-<6 hex>`. */
export function defaultServiceId(name: string, port: number, random: Random = systemRandom): string {
  const hex = Math.floor(random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
  return `${name}-${hostname()}-${port}-${hex}`;
}

/** The first non-internal IPv4 address of this host, else 127.0.0.1. */
export function defaultServiceAddress(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string {
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      if (!info.internal && (info.family === 'IPv4' || (info.family as unknown) === 4)) return info.address;
    }
  }
  return '127.0.0.1';
}

function positive(value: number, path: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${path}: ${value} must be > 0`, { path });
  return value;
}

function deregisterAfter(ms: number = MIN_DEREGISTER_MS): number {
  if (positive(ms, 'deregisterCriticalAfterMs') < MIN_DEREGISTER_MS)
    throw new ConfigError(`deregisterCriticalAfterMs: ${ms} is below Consul's minimum of 60000`, {
      path: 'deregisterCriticalAfterMs',
    });
  return ms;
}

/** Checks what Consul would refuse, so the error names the field; returns the merged meta. */
function validateService(s: ServiceDefinition): { meta: Record<string, string>; weight: number } {
  if (!s.name) throw new ConfigError('service.name: required', { path: 'service.name' });
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
    throw new ConfigError(`service.port: ${s.port} is not a port (1-65535)`, { path: 'service.port' });
  const weight = s.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1)
    throw new ConfigError(`service.weight: ${weight} must be an integer >= 1`, { path: 'service.weight' });
  const meta: Record<string, string> = { ...s.meta };
  if (s.version !== undefined) meta.version = s.version;
  if (s.zone !== undefined) meta.zone = s.zone;
  if (s.region !== undefined) meta.region = s.region;
  if (s.weight !== undefined) meta.weight = String(weight);
  for (const key of Object.keys(meta)) {
    if (!META_KEY.test(key) || key.startsWith('consul-'))
      throw new ConfigError(`service.meta.${key}: keys are 1-64 of [A-Za-z0-9_-], not consul-*`, {
        path: `service.meta.${key}`,
      });
  }
  return { meta, weight };
}
