import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { noopCallObserver, RuleStore } from '@meshless/core';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import {
  createMeshInbound,
  DEFAULT_HEALTH_PATH,
  DEFAULT_LIVENESS_PATH,
  DEFAULT_METRICS_PATH,
  DEFAULT_READINESS_PATH,
} from './mesh-inbound.ts';
import type { MeshServiceOptions } from './mesh-options.ts';
import { builtinSections } from './rules/index.ts';
import { InboundGuard } from './server/inbound-guard.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function inbound(service: MeshServiceOptions | undefined, healthy = () => true, live = () => true) {
  const clock = new ManualClock();
  const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
  return createMeshInbound({
    service,
    rules,
    clock,
    random: seededRandom(1),
    logger: silent,
    observer: noopCallObserver,
    healthy,
    live,
  });
}

/** GETs each path from a real server over `serve()`: `path -> status` ('app' when the handler answered). */
async function statuses(
  handler: ReturnType<typeof inbound>,
  paths: string[],
): Promise<Record<string, string>> {
  const server = createServer(handler.serve((_req, res) => res.end('app')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const out: Record<string, string> = {};
    for (const path of paths) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      const body = await res.text();
      out[path] = body === 'app' ? 'app' : String(res.status);
    }
    return out;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('createMeshInbound', () => {
  it('answers the default health and metrics paths, or the ones given, or none for false', () => {
    const defaults = inbound({ name: 'catalog', port: 8080 });
    expect(defaults.serving.healthPath).toBe(DEFAULT_HEALTH_PATH);
    expect(defaults.serving.metricsPath).toBe(DEFAULT_METRICS_PATH);
    const custom = inbound({ name: 'catalog', port: 8080, healthPath: '/healthz', metricsPath: '/prom' });
    expect(custom.serving.healthPath).toBe('/healthz');
    expect(custom.serving.metricsPath).toBe('/prom');
    const off = inbound({ name: 'catalog', port: 8080, healthPath: false, metricsPath: false });
    expect(off.serving.healthPath).toBeUndefined();
    expect(off.serving.metricsPath).toBeUndefined();
    expect(inbound(undefined).serving.healthPath).toBe(DEFAULT_HEALTH_PATH);
  });

  it('asks the mesh whether it is healthy on each health request', () => {
    let draining = false;
    const { serving } = inbound({ name: 'catalog', port: 8080 }, () => !draining);
    expect(serving.healthy()).toBe(true);
    draining = true;
    expect(serving.healthy()).toBe(false);
  });

  it('answers readiness (and the health path) 503 once draining while liveness stays 200 until closed', async () => {
    let draining = false;
    let closed = false;
    const subject = inbound(
      { name: 'catalog', port: 8080 },
      () => !draining,
      () => !closed,
    );
    const paths = [
      DEFAULT_HEALTH_PATH,
      DEFAULT_READINESS_PATH,
      DEFAULT_LIVENESS_PATH,
      '/meshless/health/other',
    ];
    expect(await statuses(subject, paths)).toEqual({
      '/meshless/health': '200',
      '/meshless/health/ready': '200',
      '/meshless/health/live': '200',
      '/meshless/health/other': 'app',
    });
    draining = true;
    expect(await statuses(subject, paths)).toMatchObject({
      '/meshless/health': '503',
      '/meshless/health/ready': '503',
      '/meshless/health/live': '200',
    });
    closed = true;
    expect(await statuses(subject, [DEFAULT_LIVENESS_PATH])).toEqual({ '/meshless/health/live': '503' });
    subject.dispose();
  });

  it('serves readiness and liveness on the paths given, and leaves a path turned off to the app', async () => {
    const subject = inbound({ name: 'catalog', port: 8080, readinessPath: '/readyz', livenessPath: false });
    expect(
      await statuses(subject, [
        '/readyz',
        DEFAULT_READINESS_PATH,
        DEFAULT_LIVENESS_PATH,
        DEFAULT_HEALTH_PATH,
      ]),
    ).toEqual({
      '/readyz': '200',
      '/meshless/health/ready': 'app',
      '/meshless/health/live': 'app',
      '/meshless/health': '200',
    });
    subject.dispose();
  });

  it("applies the service's inbound rules with a service name", () => {
    const named = inbound({ name: 'catalog', port: 8080 });
    expect(named.guard).toBeInstanceOf(InboundGuard);
    named.dispose();
  });

  it('runs the handler as is without a service name, and still answers an error it throws', async () => {
    const { guard, dispose } = inbound(undefined);
    expect(guard).not.toBeInstanceOf(InboundGuard);
    let ran = false;
    await guard.run({} as IncomingMessage, {} as ServerResponse, () => {
      ran = true;
    });
    expect(ran).toBe(true);
    const answered: number[] = [];
    const res = {
      headersSent: false,
      writableEnded: false,
      writeHead(status: number) {
        answered.push(status);
        return this;
      },
      setHeader() {},
      end() {},
    } as unknown as ServerResponse;
    await guard.run({} as IncomingMessage, res, () => {
      throw new Error('boom');
    });
    expect(answered).toEqual([500]);
    dispose();
  });
});
