import { createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { afterAll, beforeAll } from 'vitest';
import { newCaKey, signLeaf } from './connect-leaf.ts';

/** A real Consul dev agent with Connect on, ACLs on (default deny) and a CA whose key the test holds. */
export interface ConnectAgent {
  agent: ConsulDevAgent;
  address: string;
  /** The ACL master token ('' with ACLs off). */
  masterToken: string;
  /**
   * A token with exactly the instance policy of docs/security.md for `service` under the KV prefix
   * `rulesPrefix` (without trailing slash), plus `intentions = "read"` on its own service.
   * '' with ACLs off (every request is allowed then).
   */
  instanceToken(service: string, rulesPrefix: string): Promise<string>;
  /** POST /v1/connect/intentions (master token); returns the ID. */
  addIntention(source: string, destination: string, action: 'allow' | 'deny'): Promise<string>;
  deleteIntention(id: string): Promise<void>;
  /** The current CA as the agent serves it (`/v1/agent/connect/ca/roots`). */
  roots(): Promise<{ trustDomain: string; rootsPem: string[]; activeRootId: string }>;
  /**
   * A new EC P-256 key for the built-in provider (PUT /v1/connect/ca/configuration); resolves when
   * the agent's roots list a new active root made from that key (the old one stays, inactive).
   * Leaves are re-issued later, over the agent's jitter window (see connect-agent.test.ts).
   */
  rotateCa(): Promise<{ newRootId: string }>;
  /**
   * A leaf for the SPIFFE id `uri`, signed by this cluster's active CA key: its chain verifies
   * against `roots()` whatever trust domain `uri` names. `certPem` is the leaf followed by the active
   * root's intermediates (after a rotation: the new root cross-signed by the old), as Consul's own
   * leaves are.
   */
  foreignLeaf(uri: string): Promise<{ certPem: string; keyPem: string }>;
  /** GET /v1/agent/connect/ca/leaf/<service> (optionally blocking on `index`). */
  leaf(
    service: string,
    token: string,
    index?: string,
  ): Promise<{ certPem: string; keyPem: string; serial: string; index: string }>;
  stop(): Promise<void>;
}

interface RootsAnswer {
  TrustDomain: string;
  ActiveRootID: string;
  Roots: { ID: string; Active: boolean; RootCert: string; IntermediateCerts: string[] | null }[];
}

// Names go into HCL rules: a closed alphabet, so nothing can inject.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const PREFIX = /^[A-Za-z0-9_.-]{1,64}(\/[A-Za-z0-9_.-]{1,64}){0,7}$/;

export async function startConnectAgent(options: { acl?: boolean } = {}): Promise<ConnectAgent> {
  const acl = options.acl ?? true;
  const masterToken = acl ? randomUUID() : '';
  // The CA key is given at start, so the agent's first (and only) root is made from a key we hold:
  // no rotation happens before the test begins. Consul 1.8 reads SEC1 ("EC PRIVATE KEY") PEM.
  let caKeyPem = newCaKey();
  const args = [`-hcl=connect { enabled = true ca_config { private_key = ${JSON.stringify(caKeyPem)} } }`];
  if (acl) {
    args.push(
      `-hcl=acl { enabled = true default_policy = "deny" enable_token_persistence = false ` +
        `tokens { master = "${masterToken}" agent = "${masterToken}" } }`,
    );
  }
  const agent = await ConsulDevAgent.start({ args });
  const base = agent.url;

  async function call(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ res: Response; text: string }> {
    const headers: Record<string, string> = {};
    if (token) headers['X-Consul-Token'] = token;
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(70_000),
    });
    return { res, text: await res.text() };
  }

  async function ok(method: string, path: string, body?: unknown): Promise<string> {
    const { res, text } = await call(method, path, masterToken, body);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text;
  }

  async function rootsAnswer(index?: string): Promise<{ roots: RootsAnswer; index: string }> {
    const q = index ? `?index=${index}&wait=10s` : '';
    const { res, text } = await call('GET', `/v1/agent/connect/ca/roots${q}`, masterToken);
    if (!res.ok) throw new Error(`roots: ${res.status} ${text.slice(0, 300)}`);
    return { roots: JSON.parse(text) as RootsAnswer, index: res.headers.get('x-consul-index') ?? '0' };
  }

  /** Blocks on the roots until `done` holds (bounded); for the CA the leader sets up after election. */
  async function awaitRoots(done: (r: RootsAnswer) => boolean, timeoutMs: number): Promise<RootsAnswer> {
    const deadline = Date.now() + timeoutMs;
    let index: string | undefined;
    while (Date.now() < deadline) {
      try {
        const answer = await rootsAnswer(index);
        if (done(answer.roots)) return answer.roots;
        index = answer.index === '0' ? undefined : answer.index;
      } catch {
        // The ACL master token or the CA is not set up yet right after the election.
        index = undefined;
      }
      if (index === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`consul connect agent ${agent.address}: roots not as expected after ${timeoutMs} ms`);
  }

  const activeFrom = (key: string) => (r: RootsAnswer) => {
    const active = r.Roots.find((x) => x.ID === r.ActiveRootID && x.Active);
    return active !== undefined && sameKey(active.RootCert, key);
  };

  try {
    if (acl) {
      // The leader creates the master token a moment after the election.
      const deadline = Date.now() + 15_000;
      while ((await call('GET', '/v1/acl/token/self', masterToken).catch(() => undefined))?.res.ok !== true) {
        if (Date.now() > deadline)
          throw new Error(`ACL master token never became usable on ${agent.address}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await awaitRoots(activeFrom(caKeyPem), 15_000);
  } catch (error) {
    await agent.stop();
    throw error;
  }

  return {
    agent,
    address: agent.address,
    masterToken,

    async instanceToken(service, rulesPrefix) {
      if (!NAME.test(service)) throw new Error(`instanceToken: bad service name ${JSON.stringify(service)}`);
      if (!PREFIX.test(rulesPrefix))
        throw new Error(`instanceToken: bad prefix ${JSON.stringify(rulesPrefix)}`);
      if (!acl) return '';
      const rules = [
        `service "${service}" { policy = "write" intentions = "read" }`,
        `service_prefix "" { policy = "read" }`,
        `node_prefix "" { policy = "read" }`,
        `key_prefix "${rulesPrefix}/" { policy = "read" }`,
        `key_prefix "${rulesPrefix}/_status/" { policy = "write" }`,
      ].join('\n');
      const name = `instance-${service}-${randomUUID().slice(0, 8)}`;
      await ok('PUT', '/v1/acl/policy', { Name: name, Rules: rules });
      const token = JSON.parse(
        await ok('PUT', '/v1/acl/token', { Description: name, Policies: [{ Name: name }] }),
      );
      return token.SecretID as string;
    },

    async addIntention(source, destination, action) {
      const text = await ok('POST', '/v1/connect/intentions', {
        SourceName: source,
        DestinationName: destination,
        Action: action,
      });
      return (JSON.parse(text) as { ID: string }).ID;
    },

    async deleteIntention(id) {
      await ok('DELETE', `/v1/connect/intentions/${encodeURIComponent(id)}`);
    },

    async roots() {
      const { roots } = await rootsAnswer();
      return {
        trustDomain: roots.TrustDomain,
        rootsPem: roots.Roots.map((r) => r.RootCert),
        activeRootId: roots.ActiveRootID,
      };
    },

    async rotateCa() {
      const key = newCaKey();
      const current = JSON.parse(await ok('GET', '/v1/connect/ca/configuration')) as {
        Config: Record<string, unknown>;
      };
      // Keep the TTLs; a RootCert of the old key would not match the new key, so Consul makes one.
      const { RootCert: _old, ...config } = current.Config;
      await ok('PUT', '/v1/connect/ca/configuration', {
        Provider: 'consul',
        Config: { ...config, PrivateKey: key },
      });
      const roots = await awaitRoots(activeFrom(key), 30_000);
      caKeyPem = key;
      return { newRootId: roots.ActiveRootID };
    },

    async foreignLeaf(uri) {
      const { roots } = await rootsAnswer();
      const active = roots.Roots.find((r) => r.ID === roots.ActiveRootID);
      if (!active || !sameKey(active.RootCert, caKeyPem)) {
        throw new Error('foreignLeaf: the active root is not made from the key this helper holds');
      }
      const leaf = await signLeaf(uri, active.RootCert, caKeyPem);
      return { certPem: leaf.certPem + (active.IntermediateCerts ?? []).join(''), keyPem: leaf.keyPem };
    },

    async leaf(service, token, index) {
      const q = index ? `?index=${index}&wait=60s` : '';
      const { res, text } = await call(
        'GET',
        `/v1/agent/connect/ca/leaf/${encodeURIComponent(service)}${q}`,
        token,
      );
      if (!res.ok)
        throw Object.assign(new Error(`leaf ${service}: ${res.status} ${text.slice(0, 300)}`), {
          status: res.status,
        });
      const body = JSON.parse(text) as { CertPEM: string; PrivateKeyPEM: string; SerialNumber: string };
      return {
        certPem: body.CertPEM,
        keyPem: body.PrivateKeyPEM,
        serial: body.SerialNumber,
        index: res.headers.get('x-consul-index') ?? '0',
      };
    },

    stop: () => agent.stop(),
  };
}

/** True when the certificate's public key is the public half of `keyPem`. */
function sameKey(certPem: string, keyPem: string): boolean {
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  return fromCert.equals(fromKey);
}

/**
 * One Connect agent for the test file, started before its tests and stopped after them. The
 * returned object stands for the agent (it reads through to the one started), so tests use it as
 * they would the agent itself.
 */
export function useConnectAgent(options: { acl?: boolean } = {}): ConnectAgent {
  let started: ConnectAgent | undefined;
  beforeAll(async () => {
    started = await startConnectAgent(options);
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  const agent = (): ConnectAgent => {
    if (!started) throw new Error('the Connect agent is not started (use it inside a test)');
    return started;
  };
  // Spreading it (`{ ...agent, address }`) copies the started agent's fields too.
  return new Proxy({} as ConnectAgent, {
    get: (_target, key) => agent()[key as keyof ConnectAgent],
    ownKeys: () => Reflect.ownKeys(agent()),
    getOwnPropertyDescriptor: (_target, key) => Object.getOwnPropertyDescriptor(agent(), key),
  });
}

/** Unique service names and a KV prefix per test, so tests on one agent never meet. */
export function testNames<K extends string>(tag: string, roles: readonly K[]): Record<K | 'prefix', string> {
  const id = randomUUID().slice(0, 8);
  const out = { prefix: `${tag}-${id}` } as Record<K | 'prefix', string>;
  for (const role of roles) out[role] = `${role}-${id}`;
  return out;
}
