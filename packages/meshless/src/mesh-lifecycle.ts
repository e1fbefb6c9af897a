import type {
  ConsulConnection,
  ConsulRuleSource,
  Discovery,
  RuleStatusWriter,
  ServiceRegistration,
} from '@meshless/consul';
import type { Clock, Disposable, Logger, RuleStore } from '@meshless/core';
import type { Transport } from './client/transport.ts';
import type { InFlightCounter } from './in-flight-counter.ts';
import type { InFlightRequests } from './server/in-flight-requests.ts';

/** What close() stops, in the order it stops them. */
export interface MeshParts {
  readonly registration: ServiceRegistration | undefined;
  /** Inbound requests being served (serve(), middleware(), the Fastify plugin). */
  readonly requests: InFlightRequests;
  /** Remote calls in flight across the clients. */
  readonly calls: InFlightCounter;
  /** The mesh's subscriptions (rules, holds, metrics, the status writer). */
  readonly subscriptions: Disposable;
  readonly statusWriter: RuleStatusWriter | undefined;
  /** The clients made so far (disposing closes each). */
  readonly clients: Disposable;
  readonly guard: Disposable | undefined;
  readonly discovery: Discovery;
  readonly breakers: Disposable;
  readonly source: ConsulRuleSource;
  readonly governor: Disposable;
  readonly rules: RuleStore;
  readonly transport: Transport;
  readonly connection: ConsulConnection;
  readonly logger: Logger;
  /** Time between leaving discovery and stopping, for in-flight calls and bodies. */
  readonly drainMs: number;
  /** How much longer inbound requests still running after the drain get before a 503. */
  readonly shutdownGraceMs: number;
}

/**
 * The shutdown order (readiness already answers 503): leave discovery (maintenance, so callers
 * stop picking this instance) and give callers the drain period, still serving what arrives; then
 * answer every inbound request and let calls in flight end; only then deregister, so nothing is
 * answered by an instance Consul no longer lists; then stop the watches before the connections
 * they use. Each step only after the ones its users depend on.
 */
export async function closeInOrder(p: MeshParts): Promise<void> {
  p.requests.drain();
  // Maintenance first, then the drain period: callers, and their cached endpoint lists, move on.
  if (p.registration) await p.registration.drain({ drainMs: p.drainMs, reason: 'meshless: shutting down' });
  // Inbound requests still running get the grace period (their own calls still work), then an
  // answer: none is cut off without one. Requests that arrive from now on are refused at once.
  const cut = await p.requests.settle(p.shutdownGraceMs);
  if (cut > 0) p.logger.warn('requests still running at shutdown were answered 503', { requests: cut });
  await p.calls.idle(p.drainMs);
  if (p.registration) {
    p.logger.info('drained; deregistering from Consul');
    await p.registration.deregister();
    p.registration.dispose();
  }
  p.subscriptions.dispose();
  await p.statusWriter?.idle;
  p.clients.dispose();
  p.guard?.dispose();
  p.discovery.dispose();
  await p.discovery.stopped;
  p.breakers.dispose();
  p.source.dispose();
  await p.source.stopped;
  p.governor.dispose();
  p.rules.dispose();
  // Bodies still streaming get the drain period too, then their connections are destroyed.
  await p.transport.close(p.drainMs);
  await p.connection.close();
}

/** What createMesh waits for, within `readyTimeoutMs` in all. */
export interface StartUp {
  readonly source: ConsulRuleSource;
  readonly registration: ServiceRegistration | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly readyTimeoutMs: number;
  /** When createMesh began (clock time). */
  readonly started: number;
  readonly reportGovernance: () => Promise<void>;
}

/** The first rules (or the cached ones), then the registration and its first governance report. */
export async function startUp(p: StartUp): Promise<void> {
  // readyTimeoutMs bounds the whole of createMesh: the first rules, then registration.
  await withinMs(p.source.ready(), p.readyTimeoutMs);
  // No answer in time (a hung agent answers neither way): the cached rules apply meanwhile.
  p.source.useCache();
  if (p.registration) {
    const registered = p.registration.start();
    const left = p.readyTimeoutMs - (p.clock.now() - p.started);
    const done = await withinMs(
      registered.then(() => true),
      Math.max(0, left),
    );
    if (done === undefined) {
      p.logger.warn('registration goes on in the background: Consul did not answer in time', {
        readyTimeoutMs: p.readyTimeoutMs,
      });
      registered.then(
        () => void p.reportGovernance(),
        (error) => p.logger.error('registration refused', { error: (error as Error)?.message }),
      );
    } else await withinMs(p.reportGovernance(), Math.max(0, p.readyTimeoutMs - (p.clock.now() - p.started)));
  }
}

/** The promise's value, or undefined when `ms` pass first (the promise goes on; its rejection still propagates if it comes in time). */
export async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, ms, undefined);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drain and close on SIGTERM/SIGINT, then exit (createMesh({ handleSignals: true })). Before the
 * exit the app's servers stop accepting and their last answers are written (at most 1 s), so the
 * exit resets no connection a request had arrived on.
 */
export function installSignalHandlers(
  mesh: { close(): Promise<void>; stopAccepting(ms: number): Promise<void> },
  logger: Logger,
): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('signal received; draining', { signal });
    mesh
      .close()
      .then(() => mesh.stopAccepting(1000))
      .then(
        () => process.exit(0),
        (error) => {
          logger.error('close failed', { error });
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
