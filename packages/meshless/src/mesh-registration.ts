import { type ConsulConnection, defaultServiceId, ServiceRegistration } from '@meshless/consul';
import type { Clock, Logger, Random } from '@meshless/core';
import { GOVERNANCE_CHECK_NAME, governanceCheckId } from './governance-report.ts';
import { DEFAULT_HEALTH_PATH, signalsPathOf } from './mesh-inbound.ts';
import type { MeshServiceOptions } from './mesh-options.ts';
import { SIGNALS_META } from './signals/signals-answer.ts';

/**
 * This instance's Consul registration (TTL heartbeat, the governance check, the optional HTTP
 * check on the health path), or undefined without a service or with `register: false`.
 */
export function createRegistration(
  svc: MeshServiceOptions | undefined,
  {
    connection,
    logger,
    clock,
    random,
    connectNative,
    metrics = true,
  }: {
    connection: ConsulConnection;
    logger: Logger;
    clock: Clock;
    random: Random;
    connectNative?: boolean;
    /** false with `metrics: false`: no signals to advertise. */
    metrics?: boolean;
  },
): ServiceRegistration | undefined {
  if (!svc || svc.register === false) return undefined;
  const {
    register: _r,
    ttlMs,
    healthPath,
    readinessPath: _rp,
    livenessPath: _lp,
    httpCheck,
    drainMs: _d,
    metricsPath: _m,
    signalsPath: _s,
    shutdownGraceMs: _g,
    ...rest
  } = svc;
  // Where a reader (FleetSignals) finds this instance's golden signals: the path, on the service port.
  const signals = metrics ? signalsPathOf(svc) : undefined;
  const definition = {
    ...rest,
    ...(signals ? { meta: { ...rest.meta, [SIGNALS_META]: signals } } : {}),
    id: rest.id ?? defaultServiceId(rest.name, rest.port, random),
  };
  return new ServiceRegistration({
    connection,
    service: definition,
    logger,
    clock,
    random,
    ...(ttlMs ? { ttlMs } : {}),
    // Zero trust: Consul and its UI know the instance is in the mesh; callers see it speaks mutual TLS.
    ...(connectNative ? { connectNative: true } : {}),
    extraChecks: [{ id: governanceCheckId(definition.id), name: GOVERNANCE_CHECK_NAME }],
    ...(httpCheck && healthPath !== false
      ? {
          httpCheck: {
            url: `http://${definition.address ?? '127.0.0.1'}:${definition.port}${healthPath ?? DEFAULT_HEALTH_PATH}`,
            ...(typeof httpCheck === 'object' ? httpCheck : {}),
          },
        }
      : {}),
  });
}
