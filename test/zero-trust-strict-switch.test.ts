import { randomUUID } from 'node:crypto';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import type { Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { useConnectAgent } from './helpers/connect-agent.ts';
import { eventually, putApplied } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService, untilAllowed } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: true });

type Phase = 'permissive' | 'to-strict' | 'strict' | 'to-permissive' | 'permissive-again';
interface Outcome {
  caller: 'web' | 'legacy';
  /** The phase when the request was sent: requests sent while a switch is applied may go either way. */
  phase: Phase;
  status: number;
  code: string | undefined;
}

const IN_FLIGHT_EACH = 8;
const PER_PHASE = 150;
const MAX_REQUESTS = 200_000;

/** `meshless_inbound_plaintext_requests_total` of `caller`, from the Prometheus text (0 if absent). */
function plaintextCount(text: string, caller: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('meshless_inbound_plaintext_requests_total{')) continue;
    if (!line.includes(`caller="${caller}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('inbound mtls permissive -> strict -> permissive from KV, under load', () => {
  it('fails only the plain caller while strict, never the mutual-TLS one, and the plain one recovers', async () => {
    const id = randomUUID().slice(0, 8);
    const n = { api: `api-${id}`, web: `web-${id}`, legacy: `legacy-${id}`, prefix: `zts-${id}` };
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    const web = await startZtService(agent, n.web, n.prefix, cleanup);
    // A caller not migrated yet: zero trust off, it dials api in plain HTTP and names itself in x-meshless-caller.
    const legacy = await startZtService(agent, n.legacy, n.prefix, cleanup, { zeroTrust: false });
    await agent.addIntention(n.web, n.api, 'allow');
    const connection = new ConsulConnection({ address: agent.address, token: agent.masterToken });
    cleanup(() => connection.close());
    const kv = new ConsulKv(connection);
    const inboundKey = `${n.prefix}/services/${n.api}/inbound`;
    await untilAllowed(web.mesh, n.api);

    let phase: Phase = 'permissive';
    let stop = false;
    let sent = 0;
    const outcomes: Outcome[] = [];
    const count = (caller: Outcome['caller'], p: Phase) =>
      outcomes.filter((o) => o.caller === caller && o.phase === p).length;
    const worker = (caller: Outcome['caller'], mesh: Mesh) => async () => {
      while (!stop && sent < MAX_REQUESTS) {
        sent++;
        const at = phase;
        try {
          const res = await mesh.client(n.api).fetch('/load');
          const body = await res.text();
          const code = res.status === 200 ? undefined : (JSON.parse(body) as { code?: string }).code;
          outcomes.push({ caller, phase: at, status: res.status, code });
        } catch (error) {
          outcomes.push({ caller, phase: at, status: 0, code: (error as { code?: string }).code });
        }
      }
    };
    const load = Promise.all([
      ...Array.from({ length: IN_FLIGHT_EACH }, worker('web', web.mesh)),
      ...Array.from({ length: IN_FLIGHT_EACH }, worker('legacy', legacy.mesh)),
    ]);
    const enough = (p: Phase) =>
      eventually(
        () => count('web', p) >= PER_PHASE && count('legacy', p) >= PER_PHASE,
        15_000,
        `load in ${p}`,
      );
    try {
      await enough('permissive');
      phase = 'to-strict';
      await putApplied(kv, api.mesh, inboundKey, { mtls: 'strict' });
      phase = 'strict';
      await enough('strict');
      phase = 'to-permissive';
      await putApplied(kv, api.mesh, inboundKey, { mtls: 'permissive' });
      phase = 'permissive-again';
      await enough('permissive-again');
    } finally {
      stop = true;
      await load;
    }

    const summary = (caller: Outcome['caller'], p: Phase) => {
      const byOutcome = new Map<string, number>();
      for (const o of outcomes) {
        if (o.caller !== caller || o.phase !== p) continue;
        const key = `${o.status} ${o.code ?? ''}`.trim();
        byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
      }
      return Object.fromEntries(byOutcome);
    };
    // The mutual-TLS caller: not one failure, across both switches.
    expect(outcomes.filter((o) => o.caller === 'web' && o.status !== 200)).toEqual([]);
    // The plain caller: allowed while permissive, refused (and only with mtls_required) while strict.
    expect(Object.keys(summary('legacy', 'permissive'))).toEqual(['200']);
    expect(Object.keys(summary('legacy', 'strict'))).toEqual(['403 MESHLESS_MTLS_REQUIRED']);
    expect(Object.keys(summary('legacy', 'permissive-again'))).toEqual(['200']);
    for (const p of ['to-strict', 'to-permissive'] as const) {
      for (const key of Object.keys(summary('legacy', p))) {
        expect(['200', '403 MESHLESS_MTLS_REQUIRED']).toContain(key);
      }
    }
    // Every plain request that api passed was counted for legacy, none for web.
    const metrics = await api.mesh.metrics();
    const passedPlain = outcomes.filter((o) => o.caller === 'legacy' && o.status === 200).length;
    expect(plaintextCount(metrics, n.legacy)).toBe(passedPlain);
    expect(plaintextCount(metrics, n.web)).toBe(0);
    console.info(
      `strict switch: ${sent} requests; web ${JSON.stringify({ permissive: summary('web', 'permissive'), strict: summary('web', 'strict'), again: summary('web', 'permissive-again') })}; legacy ${JSON.stringify({ permissive: summary('legacy', 'permissive'), strict: summary('legacy', 'strict'), again: summary('legacy', 'permissive-again') })}`,
    );
  }, 90_000);
});
