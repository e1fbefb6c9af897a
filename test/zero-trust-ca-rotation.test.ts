import { randomUUID, X509Certificate } from 'node:crypto';
import type { Mesh } from 'meshless';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { useConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService, untilAllowed } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: true });

const IN_FLIGHT = 16;
/** Consul re-issues leaves over a ~30 s jitter window after a rotation. */
const SWITCH_BOUND_MS = 60_000;
/** Load kept after both meshes hold new leaves: connections made with them, both ways. */
const AFTER_MS = 2_000;
const MAX_REQUESTS = 2_000_000;
/**
 * Pace between a worker's calls: steady load, not the most the machine can do (the suite shares two
 * cores with other files for the ~30 s this runs): at most ~1 600 calls/s, ~20 redials/s.
 */
const PACE_MS = 10;
const REDIAL_PACE_MS = 50;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether the mesh holds the leaf the agent serves now (same serial: a validity end can repeat
 * within one second), that leaf is signed by the new root `rootPem`, and both roots are trusted.
 */
function onNewRoot(mesh: Mesh, leaf: { certPem: string; serial: string }, rootPem: string): boolean {
  const zt = mesh.status().zeroTrust;
  // `roots` counts certificates: after a rotation the old root, the new one and the new one
  // cross-signed by the old (Consul lists it as the new root's intermediate): 3.
  if (!zt || zt.roots < 2 || zt.certificateSerial !== leaf.serial) return false;
  return new X509Certificate(leaf.certPem).verify(new X509Certificate(rootPem).publicKey);
}

describe('a CA rotation under steady mutual-TLS load', () => {
  it('completes with zero failed requests, and callers started after it verify against the new root', async () => {
    const id = randomUUID().slice(0, 8);
    const n = { api: `api-${id}`, web: `web-${id}`, prefix: `ztr-${id}` };
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    const web = await startZtService(agent, n.web, n.prefix, cleanup);
    await agent.addIntention(n.web, n.api, 'allow');
    await untilAllowed(web.mesh, n.api);
    const before = {
      api: api.mesh.status().zeroTrust?.certificateSerial,
      web: web.mesh.status().zeroTrust?.certificateSerial,
    };
    expect(before.api).toBeTruthy();
    expect(api.mesh.status().zeroTrust?.roots).toBe(1);

    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (!stop && sent < MAX_REQUESTS) {
        sent++;
        try {
          const res = await web.mesh.client(n.api).fetch('/load');
          const body = await res.text();
          if (res.status !== 200) failures.push(`${res.status} ${body.slice(0, 120)}`);
        } catch (error) {
          failures.push(`${(error as { code?: string }).code} ${(error as Error).message}`);
        }
        await pause(PACE_MS);
      }
    };
    // The mesh's pools keep their connections (and the certificate they were made with); this one
    // makes a new connection per call with web's leaf as the agent serves it now, against the roots
    // as they are now: the handshake itself across the switch, both ways.
    let handshakes = 0;
    const redialer = async () => {
      while (!stop && handshakes < MAX_REQUESTS) {
        handshakes++;
        try {
          const [leaf, { rootsPem }] = await Promise.all([
            agent.leaf(n.web, agent.masterToken),
            agent.roots(),
          ]);
          const client = new Agent({
            connect: {
              cert: leaf.certPem,
              key: leaf.keyPem,
              ca: rootsPem,
              checkServerIdentity: () => undefined,
            },
          });
          try {
            const res = await client.request({
              origin: `https://127.0.0.1:${api.port}`,
              path: '/new',
              method: 'GET',
            });
            const body = await res.body.text();
            if (res.statusCode !== 200)
              failures.push(`new connection: ${res.statusCode} ${body.slice(0, 120)}`);
          } finally {
            await client.close();
          }
        } catch (error) {
          failures.push(`new connection: ${(error as { code?: string }).code} ${(error as Error).message}`);
        }
        await pause(REDIAL_PACE_MS);
      }
    };
    const load = Promise.all([...Array.from({ length: IN_FLIGHT }, worker), redialer()]);
    const started = Date.now();
    try {
      const { newRootId } = await agent.rotateCa();
      const roots = await agent.roots();
      expect(roots.rootsPem).toHaveLength(2);
      expect(roots.activeRootId).toBe(newRootId);
      const newRoot = (await fetch(`${agent.agent.url}/v1/agent/connect/ca/roots`, {
        headers: { 'X-Consul-Token': agent.masterToken },
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.json())) as { Roots: { ID: string; RootCert: string }[] };
      const rootPem = newRoot.Roots.find((r) => r.ID === newRootId)!.RootCert;
      // Each side's leaf as the agent now serves it; the mesh must hold that one (new validity).
      await eventually(
        async () => {
          const [a, w] = await Promise.all([
            agent.leaf(n.api, agent.masterToken),
            agent.leaf(n.web, agent.masterToken),
          ]);
          return onNewRoot(api.mesh, a, rootPem) && onNewRoot(web.mesh, w, rootPem);
        },
        SWITCH_BOUND_MS,
        'both meshes on a leaf of the new root',
      );
      // New leaves, not the ones held before the rotation.
      expect(api.mesh.status().zeroTrust?.certificateSerial).not.toBe(before.api);
      expect(web.mesh.status().zeroTrust?.certificateSerial).not.toBe(before.web);
      const switched = Date.now() - started;
      const sentAtSwitch = sent;
      await new Promise((r) => setTimeout(r, AFTER_MS)); // load keeps running: a bounded window, not a wait for state
      stop = true;
      await load;
      console.info(
        `CA rotation: both meshes on the new root after ${switched} ms; ${sentAtSwitch} requests by then, ${sent} in all (${IN_FLIGHT} in flight) and ${handshakes} on new connections, ${failures.length} failed`,
      );
    } finally {
      stop = true;
      await load;
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(IN_FLIGHT * 10);
    // Every request reached api's handler over mutual TLS, as web (plus the warm-up call).
    expect(api.peers.length).toBe(sent + handshakes + 1);
    expect(handshakes).toBeGreaterThan(10);
    expect(api.peers.every((p) => p.endsWith(`/svc/${n.web}`))).toBe(true);

    // A caller started after the rotation holds only a new-root leaf: api (new leaf, both roots) lets it in.
    const fresh = await startZtService(agent, n.web, n.prefix, cleanup);
    expect(fresh.mesh.status().zeroTrust?.roots).toBeGreaterThanOrEqual(2);
    await eventually(() => fresh.mesh.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    const res = await fresh.mesh.client(n.api).fetch('/fresh');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`${n.api}:/fresh`);
    // And api calls the fresh caller's service back over a new connection (server side on the new leaf).
    await agent.addIntention(n.api, n.web, 'allow');
    await eventually(
      async () => {
        const back = await api.mesh.client(n.web).fetch('/back');
        await back.text();
        return back.status === 200;
      },
      5000,
      'api calls web back',
    );
  }, 120_000);
});
