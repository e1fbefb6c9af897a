import { randomUUID, X509Certificate } from 'node:crypto';
import {
  ConnectIdentity,
  type ConnectMaterial,
  ConsulConnection,
  ConsulIntentions,
  ConsulResolver,
  type IntentionSet,
  ServiceRegistration,
} from '@meshless/consul';
import { spiffeIdFromSubjectAltName } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { startConnectAgent } from './helpers/connect-agent.ts';
import { consulAddress } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// The Consul side of zero trust on the shared dev agent (Connect on, ACLs off): the identity
// (leaf + roots), the intentions watch with its default decision, and Connect-native registration
// seen by discovery. The ACL-on case (default deny) runs on test/helpers/connect-agent.ts.

const addCleanup = useCleanupsAndNoUnhandledRejections();

function connect(): ConsulConnection {
  const connection = new ConsulConnection({ address: consulAddress() });
  addCleanup(() => connection.close());
  return connection;
}

/** `promise`, or a rejection naming `what` (and the log so far) after `ms`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  lines: readonly string[] = [],
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms\n${lines.join('\n')}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const unique = (what: string) => `conn-${what}-${randomUUID().slice(0, 8)}`;

/** The current set if it already holds, else the first one that does. */
function nextSet(source: ConsulIntentions, predicate: (s: IntentionSet) => boolean): Promise<IntentionSet> {
  const now = source.current();
  if (now && predicate(now)) return Promise.resolve(now);
  return new Promise((resolve) => {
    const sub = source.onDidChange((s) => {
      if (!predicate(s)) return;
      sub.dispose();
      resolve(s);
    });
  });
}

describe('Connect sources on a real Consul', () => {
  it('ConnectIdentity: a leaf whose URI SAN is its spiffeId, chained to the listed roots; dispose ends both watches', async () => {
    const connection = connect();
    const service = unique('id');
    const identity = new ConnectIdentity({ connection, service });
    const material = await identity.ready();
    expect(material.service).toBe(service);
    expect(material.spiffeId).toBe(
      `spiffe://${material.trustDomain}/ns/default/dc/${material.datacenter}/svc/${service}`,
    );
    const leaf = new X509Certificate(material.certPem);
    expect(spiffeIdFromSubjectAltName(leaf.subjectAltName)?.uri).toBe(material.spiffeId);
    expect(material.rootsPem.some((root) => leaf.verify(new X509Certificate(root).publicKey))).toBe(true);
    expect(material.validBefore.getTime()).toBeGreaterThan(Date.now());
    expect(identity.current()).toBe(material);
    expect(identity.stats()).toMatchObject({
      rootCount: material.rootsPem.length,
      validBefore: leaf.validToDate.toISOString(),
    });
    identity.dispose();
    await identity.done;
  });

  it('ConsulIntentions: defaultAllow true with ACLs off; an added and a deleted intention arrive within a second', async () => {
    const connection = connect();
    const service = unique('dst');
    const intentions = new ConsulIntentions({ connection, service });
    addCleanup(async () => {
      intentions.dispose();
      await intentions.done;
    });
    const learned = nextSet(intentions, (s) => s.defaultAllow !== undefined);
    const first = await intentions.ready();
    expect(first.source).toBe('legacy'); // Consul 1.8: detected from the config-entry answer
    expect(first.intentions.filter((i) => i.source !== '*')).toEqual([]);
    expect((await learned).defaultAllow).toBe(true);

    const caller = unique('src');
    const added = nextSet(intentions, (s) => s.intentions.some((i) => i.source === caller));
    const t0 = performance.now();
    const { ID: id } = await connection.json<{ ID: string }>({
      method: 'POST',
      path: '/v1/connect/intentions',
      body: JSON.stringify({
        SourceName: caller,
        DestinationName: service,
        Action: 'deny',
        Description: 'test',
      }),
    });
    addCleanup(() =>
      connection.request({ method: 'DELETE', path: `/v1/connect/intentions/${id}` }).then(() => {}),
    );
    const withIt = await added;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(withIt.intentions.find((i) => i.source === caller)).toEqual({
      id,
      source: caller,
      action: 'deny',
      permissions: undefined,
      precedence: 9,
      description: 'test',
    });
    expect(withIt.defaultAllow).toBe(true);
    expect(withIt.index).toBeGreaterThan(first.index);

    const removed = nextSet(intentions, (s) => !s.intentions.some((i) => i.id === id));
    const t1 = performance.now();
    await connection.json({ method: 'DELETE', path: `/v1/connect/intentions/${id}` });
    await removed;
    expect(performance.now() - t1).toBeLessThan(1000);
    expect(intentions.stats()).toMatchObject({ loaded: true, source: 'legacy', lastError: undefined });

    intentions.dispose();
    await intentions.done;
  });

  it('registration with connectNative shows mtls: true on the resolved endpoint, and plain ones stay without it', async () => {
    const connection = connect();
    const service = unique('native');
    const native = new ServiceRegistration({
      connection,
      service: { name: service, id: `${service}-1`, address: '127.0.0.1', port: 9101 },
      connectNative: true,
    });
    const plain = new ServiceRegistration({
      connection,
      service: { name: service, id: `${service}-2`, address: '127.0.0.1', port: 9102 },
    });
    addCleanup(() => native.deregister());
    addCleanup(() => plain.deregister());
    await Promise.all([native.start(), plain.start()]);
    const resolver = new ConsulResolver({ connection, service });
    addCleanup(async () => {
      resolver.dispose();
      await resolver.stopped;
    });
    const endpoints = await resolver.ready();
    expect(endpoints.map((e) => [e.port, e.mtls])).toEqual([
      [9101, true],
      [9102, undefined],
    ]);
    expect(Object.hasOwn(endpoints[1]!, 'mtls')).toBe(false);
  });

  it('with ACLs on (default deny) and the instance token: identity ready, legacy detected, defaultAllow false, a new allow arrives', async () => {
    const consul = await startConnectAgent({ acl: true });
    addCleanup(() => consul.stop());
    const service = unique('acl');
    const token = await consul.instanceToken(service, 'meshless');
    const connection = new ConsulConnection({ address: consul.address, token });
    addCleanup(() => connection.close());
    const lines: string[] = [];
    const log = (message: string, fields?: object) =>
      lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
    const logger = { debug: log, info: log, warn: log, error: log };
    const identity = new ConnectIdentity({ connection, service, logger });
    const intentions = new ConsulIntentions({ connection, service, logger });
    addCleanup(async () => {
      identity.dispose();
      intentions.dispose();
      await Promise.all([identity.done, intentions.done]);
    });
    const material = await identity.ready();
    expect(material.trustDomain).toBe((await consul.roots()).trustDomain);
    const learned = nextSet(intentions, (s) => s.defaultAllow !== undefined);
    expect((await intentions.ready()).source).toBe('legacy');
    expect((await within(learned, 5000, 'default decision', lines)).defaultAllow).toBe(false);

    const caller = unique('caller');
    const added = nextSet(intentions, (s) => s.intentions.some((i) => i.source === caller));
    const t0 = performance.now();
    await consul.addIntention(caller, service, 'allow');
    const withIt = await within(added, 5000, 'the new intention', lines);
    expect(withIt.intentions.find((i) => i.source === caller)?.action).toBe('allow');
    expect(performance.now() - t0).toBeLessThan(1000);
    // A CA rotation: the new root arrives as a change, the old one still trusted beside it (the leaf
    // is re-issued later, over the agent's jitter window, and until then chains to the old root).
    const rotated = new Promise<ConnectMaterial>((resolve) => {
      const sub = identity.onDidChange((m) => {
        if (m.activeRootId === material.activeRootId) return;
        sub.dispose();
        resolve(m);
      });
    });
    const { newRootId } = await within(consul.rotateCa(), 10_000, 'rotateCa', lines);
    const after = await within(rotated, 5000, 'the rotated roots', lines);
    expect(after.activeRootId).toBe(newRootId);
    expect(after.rootsPem).toEqual(expect.arrayContaining([...material.rootsPem]));
    expect(after.rootsPem.length).toBeGreaterThan(material.rootsPem.length);
    const leaf = new X509Certificate(after.certPem);
    expect(after.rootsPem.some((root) => leaf.verify(new X509Certificate(root).publicKey))).toBe(true);

    // The token goes in a header only: no log line carries it.
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
  });
});
