import { ConfigError, ConsulError, type Logger } from '@meshless/core';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import type { ConsulRequest, ConsulResponse } from './connection.ts';
import {
  type AgentConnection,
  defaultServiceAddress,
  defaultServiceId,
  type ReregisterEvent,
  ServiceRegistration,
  type ServiceRegistrationOptions,
} from './registration.ts';

// A scripted agent: every request is recorded and answered by `reply`. Answers are immediate
// promises, so after `flush()` the registration has finished reacting; time moves only with the
// ManualClock, which makes the heartbeat schedule exact.

type Reply = { status: number; body?: string } | Error;

function agent(reply: (req: ConsulRequest) => Reply = () => ({ status: 200 })) {
  const calls: ConsulRequest[] = [];
  const state = { reply };
  const connection: AgentConnection = {
    async request(req: ConsulRequest): Promise<ConsulResponse> {
      calls.push(req);
      const r = state.reply(req);
      if (r instanceof Error) throw r;
      return { status: r.status, index: undefined, body: Buffer.from(r.body ?? ''), header: () => undefined };
    },
  };
  return {
    connection,
    calls,
    set reply(fn: (req: ConsulRequest) => Reply) {
      state.reply = fn;
    },
    paths: () => calls.map((c) => c.path),
    bodyOf: (i: number) => JSON.parse(String(calls[i]!.body)),
  };
}

const flush = () => new Promise((r) => setImmediate(r));

function recordingLogger() {
  const lines: string[] = [];
  const log = (level: string) => (msg: string) => lines.push(`${level} ${msg}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return { logger, lines };
}

function setup(options: Partial<ServiceRegistrationOptions> = {}, reply?: (req: ConsulRequest) => Reply) {
  const a = agent(reply);
  const clock = new ManualClock();
  const reg = new ServiceRegistration({
    connection: a.connection,
    clock,
    service: { name: 'catalog', id: 'catalog-1', address: '10.0.0.5', port: 8080 },
    ttlMs: 3000,
    ...options,
  });
  return { a, clock, reg };
}

const forgot = { status: 500, body: 'CheckID "service:catalog-1" does not have associated TTL' };

describe('ServiceRegistration', () => {
  it('registers passing checks, merged meta and weights so the instance is usable at once', async () => {
    const { a, reg } = setup({
      service: {
        name: 'catalog',
        id: 'catalog-1',
        address: '10.0.0.5',
        port: 8080,
        tags: ['http'],
        meta: { team: 'shop' },
        version: 'v2',
        zone: 'eu-1a',
        region: 'eu-1',
        weight: 3,
      },
      httpCheck: { url: 'http://10.0.0.5:8080/health' },
      extraChecks: [{ id: 'governance', name: 'meshless governance', notes: 'rule versions' }],
    });
    await reg.start();
    expect(a.calls[0]).toMatchObject({ method: 'PUT', path: '/v1/agent/service/register' });
    const body = a.bodyOf(0);
    expect(body).toMatchObject({
      ID: 'catalog-1',
      Name: 'catalog',
      Address: '10.0.0.5',
      Port: 8080,
      Tags: ['http'],
      Meta: { team: 'shop', version: 'v2', zone: 'eu-1a', region: 'eu-1', weight: '3' },
      Weights: { Passing: 3, Warning: 1 },
    });
    expect(body.Checks).toEqual([
      expect.objectContaining({
        CheckID: 'service:catalog-1',
        TTL: '3000ms',
        Status: 'passing',
        DeregisterCriticalServiceAfter: '60000ms',
      }),
      expect.objectContaining({
        CheckID: 'service:catalog-1:http',
        HTTP: 'http://10.0.0.5:8080/health',
        Interval: '10000ms',
        Status: 'passing',
      }),
      expect.objectContaining({
        CheckID: 'governance',
        TTL: '3000ms',
        Status: 'passing',
        Notes: 'rule versions',
      }),
    ]);
    expect(reg.status()).toMatchObject({ id: 'catalog-1', registered: true, failures: 0 });
    reg.dispose();
  });

  it('sends the first heartbeat with the registration, so the agent has saved the check state', async () => {
    // Consul saves a TTL check's state only on an update and restores one without it as critical:
    // an agent restarted before the first timed beat took the instance out of discovery until it.
    const { a, reg } = setup({ extraChecks: [{ id: 'gov', name: 'governance' }] });
    await reg.updateCheck('gov', 'warning', 'set before start');
    await reg.start();
    expect(a.paths()).toEqual([
      '/v1/agent/service/register',
      '/v1/agent/check/update/service%3Acatalog-1',
      '/v1/agent/check/update/gov',
    ]);
    expect(a.bodyOf(1)).toEqual({ Status: 'passing', Output: 'meshless heartbeat' });
    expect(reg.status().heartbeats).toBe(0); // the timed beats are counted, not this one
    reg.dispose();
  });

  it('registers Connect-native only when asked (Connect: { Native: true })', async () => {
    const service = { name: 'catalog', id: 'catalog-1', address: '10.0.0.5', port: 8080 };
    const native = setup({ service, connectNative: true });
    await native.reg.start();
    expect(native.a.bodyOf(0).Connect).toEqual({ Native: true });
    native.reg.dispose();
    const plain = setup({ service });
    await plain.reg.start();
    expect(Object.hasOwn(plain.a.bodyOf(0), 'Connect')).toBe(false);
    plain.reg.dispose();
  });

  it('heartbeats every ttl/3 on the clock, refreshing extra checks with their last status', async () => {
    const { a, clock, reg } = setup({ extraChecks: [{ id: 'gov', name: 'governance' }] });
    await reg.start();
    expect(await reg.updateCheck('gov', 'warning', 'rule rejected')).toBe(true);
    const before = a.calls.length;
    clock.advance(999);
    await flush();
    expect(a.calls.length).toBe(before);
    clock.advance(1);
    await flush();
    expect(a.paths().slice(before)).toEqual([
      '/v1/agent/check/update/service%3Acatalog-1',
      '/v1/agent/check/update/gov',
    ]);
    expect(a.bodyOf(before)).toEqual({ Status: 'passing', Output: 'meshless heartbeat' });
    expect(a.bodyOf(before + 1)).toEqual({ Status: 'warning', Output: 'rule rejected' });
    clock.advance(1000);
    await flush();
    expect(reg.status().heartbeats).toBe(2);
    reg.dispose();
    expect(clock.pending).toBe(0);
  });

  it('registers again when the agent forgot the check (500 or 404), with the last check states', async () => {
    const { a, clock, reg } = setup({ extraChecks: [{ id: 'gov', name: 'governance' }] });
    const events: ReregisterEvent[] = [];
    reg.onDidReregister((e) => events.push(e));
    await reg.start();
    await reg.updateCheck('gov', 'critical', 'broken');
    a.reply = (req) => (req.path.startsWith('/v1/agent/check/update') ? forgot : { status: 200 });
    const before = a.calls.length;
    clock.advance(1000);
    await flush();
    expect(a.paths().slice(before, before + 2)).toEqual([
      '/v1/agent/check/update/service%3Acatalog-1',
      '/v1/agent/service/register',
    ]);
    const checks = a.bodyOf(before + 1).Checks as { CheckID: string; Status: string }[];
    expect(checks.find((c) => c.CheckID === 'gov')?.Status).toBe('critical');
    expect(events).toEqual([
      { id: 'catalog-1', reason: expect.stringContaining('does not have associated TTL') },
    ]);

    a.reply = (req) => (req.path.startsWith('/v1/agent/check/update') ? { status: 404 } : { status: 200 });
    clock.advance(1000);
    await flush();
    expect(events).toHaveLength(2);
    expect(reg.status()).toMatchObject({ registered: true, reregistrations: 2 });
    reg.dispose();
  });

  it('survives an unreachable agent: counts and logs once, never throws, retries only on the next beat', async () => {
    const { logger, lines } = recordingLogger();
    const { a, clock, reg } = setup({ logger });
    await reg.start();
    a.reply = () => new ConsulError('consul PUT /v1/agent/check/update: ECONNREFUSED');
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await flush();
    }
    expect(a.calls.length).toBe(5); // register + its first heartbeat + one attempt per beat, no retry storm
    expect(reg.status()).toMatchObject({
      failures: 3,
      registered: true,
      lastError: expect.stringContaining('ECONNREFUSED'),
    });
    expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
    a.reply = () => ({ status: 200 });
    clock.advance(1000);
    await flush();
    expect(reg.status().heartbeats).toBe(1);
    expect(lines).toContain('info consul agent reachable again');
    reg.dispose();
  });

  it('start() resolves while the agent is down and registers on a later beat', async () => {
    const { a, clock, reg } = setup({}, () => new ConsulError('ECONNREFUSED'));
    const events: ReregisterEvent[] = [];
    reg.onDidReregister((e) => events.push(e));
    await reg.start();
    expect(reg.status().registered).toBe(false);
    a.reply = () => ({ status: 200 });
    clock.advance(1000);
    await flush();
    expect(a.paths()).toEqual([
      '/v1/agent/service/register',
      '/v1/agent/service/register',
      '/v1/agent/check/update/service%3Acatalog-1',
    ]);
    expect(reg.status().registered).toBe(true);
    expect(events).toEqual([]); // a first registration is not a re-registration
    reg.dispose();
  });

  it('after a failed heartbeat, beats again as soon as the agent answers, not at the next beat', async () => {
    const { a, clock, reg } = setup();
    let answer: (() => void) | undefined;
    a.connection.whenAnswering = (signal) =>
      new Promise<void>((resolve, reject) => {
        answer = resolve;
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    await reg.start();
    const sent = a.calls.length;
    a.reply = () => new ConsulError('ECONNREFUSED');
    clock.advance(1000); // ttl / 3: this beat fails
    await flush();
    expect(a.calls.length).toBe(sent + 1);
    expect(answer).toBeDefined();
    // An agent back from a long outage restores the heartbeat check as critical: beat at once.
    a.reply = () => ({ status: 200 });
    answer!();
    await flush();
    await flush();
    expect(a.paths().slice(sent + 1)).toEqual(['/v1/agent/check/update/service%3Acatalog-1']);
    expect(reg.status().heartbeats).toBe(1);
    // Healthy again: the next beat waits for the timer, with no wait on the agent.
    answer = undefined;
    clock.advance(1000);
    await flush();
    expect(answer).toBeUndefined();
    reg.dispose();
  });

  it('start() rejects when the agent refuses the definition, and schedules nothing', async () => {
    const { clock, reg } = setup({}, () => ({ status: 400, body: 'Invalid Service Meta' }));
    const error = await reg.start().catch((e: unknown) => e);
    expect(ConsulError.isInstance(error) && (error as ConsulError).code).toBe('MESHLESS_CONSUL');
    expect((error as Error).message).toContain('Invalid Service Meta');
    expect(clock.pending).toBe(0);
  });

  it('updateCheck never throws: false for unknown checks and unreachable agents, re-registers when forgotten', async () => {
    const { a, reg } = setup({ extraChecks: [{ id: 'gov', name: 'governance' }] });
    expect(await reg.updateCheck('gov', 'warning', 'before start')).toBe(false);
    await reg.start();
    // The status set before start went out with the registration.
    expect((a.bodyOf(0).Checks as { Status: string }[])[1]!.Status).toBe('warning');
    expect(await reg.updateCheck('nope', 'passing', '')).toBe(false);
    a.reply = () => new ConsulError('ECONNREFUSED');
    expect(await reg.updateCheck('gov', 'passing', 'ok')).toBe(false);
    let forgetOnce = true;
    a.reply = (req) => {
      if (!req.path.startsWith('/v1/agent/check/update') || !forgetOnce) return { status: 200 };
      forgetOnce = false;
      return forgot;
    };
    expect(await reg.updateCheck('gov', 'critical', 'bad rule')).toBe(true);
    expect(a.paths().slice(-3)).toEqual([
      '/v1/agent/service/register',
      '/v1/agent/check/update/service%3Acatalog-1',
      '/v1/agent/check/update/gov',
    ]);
    reg.dispose();
  });

  it('drain(): maintenance on, no more heartbeats, resolves after drainMs on the clock', async () => {
    const { a, clock, reg } = setup();
    await reg.start();
    let drained = false;
    const p = reg.drain({ drainMs: 5000, reason: 'deploy' }).then(() => {
      drained = true;
    });
    await flush();
    expect(a.calls.at(-1)).toMatchObject({
      path: '/v1/agent/service/maintenance/catalog-1',
      query: { enable: 'true', reason: 'deploy' },
    });
    const count = a.calls.length;
    clock.advance(4999);
    await flush();
    expect(drained).toBe(false);
    expect(a.calls.length).toBe(count); // no heartbeat while draining
    clock.advance(1);
    await p;
    expect(reg.status().draining).toBe(true);
    await reg.deregister();
    expect(a.paths().at(-1)).toBe('/v1/agent/service/deregister/catalog-1');
  });

  it('drain() falls back to a critical heartbeat check when maintenance mode fails', async () => {
    const { a, clock, reg } = setup();
    await reg.start();
    a.reply = (req) =>
      req.path.includes('maintenance') ? { status: 403, body: 'Permission denied' } : { status: 200 };
    const p = reg.drain({ drainMs: 10 });
    await flush();
    expect(a.paths().at(-1)).toBe('/v1/agent/check/update/service%3Acatalog-1');
    expect(a.bodyOf(a.calls.length - 1).Status).toBe('critical');
    clock.advance(10);
    await p;
    reg.dispose();
  });

  it('deregister() runs once, after in-flight work, treats 404 as done and leaves no timer', async () => {
    const { a, clock, reg } = setup();
    await reg.start();
    a.reply = (req) => (req.path.includes('deregister') ? { status: 404 } : { status: 200 });
    await Promise.all([reg.deregister(), reg.deregister()]);
    await reg.deregister();
    expect(a.paths().filter((p) => p.includes('deregister'))).toHaveLength(1);
    expect(reg.status()).toMatchObject({ registered: false, failures: 0 });
    expect(clock.pending).toBe(0);
  });

  it('dispose() stops the heartbeat without deregistering', async () => {
    const { a, clock, reg } = setup();
    await reg.start();
    reg.dispose();
    reg.dispose();
    clock.advance(10_000);
    await flush();
    expect(a.paths()).toEqual(['/v1/agent/service/register', '/v1/agent/check/update/service%3Acatalog-1']);
    expect(clock.pending).toBe(0);
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    const a = agent();
    const make = (o: Partial<ServiceRegistrationOptions>) => () =>
      new ServiceRegistration({ connection: a.connection, service: { name: 'x', port: 80 }, ...o });
    const pathOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof ConfigError ? e.path : 'not a ConfigError';
      }
      return 'no error';
    };
    expect(pathOf(make({ service: { name: 'x', port: 0 } }))).toBe('service.port');
    expect(pathOf(make({ service: { name: 'x', port: 80, weight: 0.5 } }))).toBe('service.weight');
    expect(pathOf(make({ service: { name: 'x', port: 80, meta: { 'bad key': 'v' } } }))).toBe(
      'service.meta.bad key',
    );
    expect(pathOf(make({ deregisterCriticalAfterMs: 5000 }))).toBe('deregisterCriticalAfterMs');
    expect(pathOf(make({ ttlMs: -1 }))).toBe('ttlMs');
    expect(
      pathOf(
        make({
          extraChecks: [
            { id: 'a', name: 'a' },
            { id: 'a', name: 'b' },
          ],
        }),
      ),
    ).toBe('extraChecks');
    const service = { name: 'x', id: 'x1', port: 80 };
    expect(pathOf(make({ service, extraChecks: [{ id: 'service:x1', name: 'a' }] }))).toBe('extraChecks');
  });
});

describe('defaults', () => {
  it('id is name-hostname-port-6 hex, different per process', () => {
    const id = defaultServiceId('catalog', 8080, seededRandom(1));
    expect(id).toMatch(/^catalog-.+-8080-[0-9a-f]{6}$/);
    expect(defaultServiceId('catalog', 8080, seededRandom(2))).not.toBe(id);
  });

  it('address is the first non-internal IPv4, else 127.0.0.1', () => {
    const lo = {
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      family: 'IPv4',
      mac: '',
      internal: true,
      cidr: null,
    };
    const v6 = { ...lo, address: 'fe80::1', family: 'IPv6', internal: false, scopeid: 0 };
    const eth = { ...lo, address: '10.1.2.3', internal: false };
    type Interfaces = Parameters<typeof defaultServiceAddress>[0];
    expect(defaultServiceAddress({ lo: [lo], eth0: [v6, eth] } as Interfaces)).toBe('10.1.2.3');
    expect(defaultServiceAddress({ lo: [lo] } as Interfaces)).toBe('127.0.0.1');
  });
});
