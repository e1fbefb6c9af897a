import type { IncomingMessage, ServerResponse } from 'node:http';
import { noopCallObserver, RuleStore } from '@meshless/core';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { createMeshInbound, DEFAULT_HEALTH_PATH, DEFAULT_METRICS_PATH } from './mesh-inbound.ts';
import type { MeshServiceOptions } from './mesh-options.ts';
import { builtinSections } from './rules/index.ts';
import { InboundGuard } from './server/inbound-guard.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function inbound(service: MeshServiceOptions | undefined, healthy = () => true) {
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
  });
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
