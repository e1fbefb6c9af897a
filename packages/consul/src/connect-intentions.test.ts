import { ConsulError, type Logger } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsulIntentions, defaultFromAuthorize, type IntentionSet } from './connect-intentions.ts';
import {
  INTENTION_LIMITS,
  intentionPrecedence,
  parseLegacyIntentions,
  parseServiceIntentionsEntries,
} from './connect-intentions-parse.ts';
import { type Handler, scriptedAgent } from './test-support.ts';

// Parsing is tested on documents shaped like Consul's answers: 1.8.7's legacy list as measured,
// and a 1.9+ service-intentions listing written from the config entry reference (no 1.9 here).
// The class runs against a scripted agent on loopback with real blocking semantics.

const legacy = (over: Record<string, unknown>) => ({
  ID: 'id',
  Description: '',
  SourceNS: 'default',
  SourceName: 'api',
  DestinationNS: 'default',
  DestinationName: 'web',
  SourceType: 'consul',
  Action: 'allow',
  Meta: {},
  Precedence: 9,
  CreateIndex: 15,
  ModifyIndex: 15,
  ...over,
});

const CONFIG_19 = JSON.stringify([
  {
    Kind: 'service-intentions',
    Name: 'web',
    Namespace: 'default',
    Sources: [
      {
        Name: 'admin',
        Precedence: 9,
        Type: 'consul',
        Permissions: [
          {
            Action: 'allow',
            HTTP: {
              PathPrefix: '/v2',
              Methods: ['GET', 'PUT'],
              Header: [
                { Name: 'X-Tenant', Exact: 'a' },
                { Name: 'x-debug', Present: true, Invert: true },
              ],
            },
          },
          { Action: 'deny', HTTP: { PathRegex: '^/admin/.*' } },
        ],
      },
      {
        Name: 'report',
        Action: 'deny',
        Precedence: 9,
        Type: 'consul',
        LegacyID: 'legacy-1',
        Description: 'no',
      },
      { Name: '*', Action: 'allow', Precedence: 8, Type: 'consul' },
      { Name: 'peer-svc', Peer: 'other-cluster', Action: 'allow' },
      { Name: 'bad-l7', Permissions: [{ Action: 'allow', HTTP: { PathExact: '/a', PathPrefix: '/b' } }] },
    ],
    CreateIndex: 20,
    ModifyIndex: 21,
  },
  { Kind: 'service-intentions', Name: '*', Sources: [{ Name: 'ops', Action: 'allow' }] },
  { Kind: 'service-intentions', Name: 'other', Sources: [{ Name: 'api', Action: 'allow' }] },
]);

describe('intention parsing', () => {
  it('keeps the legacy intentions for this destination or *, in precedence order, ties exact source first then id', () => {
    const doc = JSON.stringify([
      legacy({ ID: 'b', SourceName: '*', DestinationName: '*', Action: 'deny', Precedence: 5 }),
      legacy({ ID: 'c', SourceName: 'api' }),
      legacy({ ID: 'a', SourceName: 'zed', Precedence: 9 }),
      legacy({ ID: 'd', SourceName: '*', Precedence: 9 }),
      legacy({ ID: 'e', DestinationName: 'webx' }),
      legacy({ ID: 'f', DestinationName: 'Web' }),
      legacy({ ID: 'g', SourceNS: 'team-a' }),
      legacy({ ID: 'h', SourceName: 'ops', Precedence: 'high', DestinationName: '*' }),
    ]);
    const list = parseLegacyIntentions(doc, 'web');
    expect(list.map((i) => i.id)).toEqual(['a', 'c', 'd', 'h', 'b']);
    expect(list[0]).toEqual({
      id: 'a',
      source: 'zed',
      action: 'allow',
      permissions: undefined,
      precedence: 9,
      description: '',
    });
    expect(list.find((i) => i.id === 'h')!.precedence).toBe(6); // computed when Consul's is not a number
    expect(Object.isFrozen(list[0])).toBe(true);
  });

  it('skips malformed legacy entries with one warning and never reads Object.prototype', () => {
    const warnings: unknown[] = [];
    const doc = `[${[
      JSON.stringify(legacy({ ID: 'ok' })),
      '{"__proto__": {"DestinationName": "web", "ID": "x", "SourceName": "a", "Action": "allow"}}',
      JSON.stringify(legacy({ ID: 'no-action', Action: 'maybe' })),
      JSON.stringify(legacy({ ID: '', SourceName: 'a' })),
      JSON.stringify(legacy({ ID: 'long', SourceName: 'x'.repeat(300) })),
      'null',
      '7',
    ].join(',')}]`;
    const list = parseLegacyIntentions(doc, 'web', { warn: (m, f) => warnings.push([m, f]) });
    expect(list.map((i) => i.id)).toEqual(['ok']);
    expect(warnings).toEqual([['intentions: malformed entries skipped', { service: 'web', skipped: 6 }]]);
    expect(() => parseLegacyIntentions('{"a":1}', 'web')).toThrow(/not a list/);
    expect(() => parseLegacyIntentions(' '.repeat(INTENTION_LIMITS.body + 1), 'web')).toThrow(/too large/);
  });

  it('reads a 1.9 service-intentions listing: L7 permissions, legacy ids, * entries, no peers, malformed sources skipped', () => {
    const warnings: string[] = [];
    const list = parseServiceIntentionsEntries(CONFIG_19, 'web', { warn: (m) => warnings.push(m) });
    expect(list.map((i) => [i.id, i.source, i.action, i.precedence])).toEqual([
      ['legacy-1', 'report', 'deny', 9],
      ['web/admin', 'admin', undefined, 9],
      ['web/*', '*', 'allow', 8],
      ['*/ops', 'ops', 'allow', 6],
    ]);
    expect(list[1]!.permissions).toEqual([
      {
        action: 'allow',
        http: {
          pathPrefix: '/v2',
          methods: ['GET', 'PUT'],
          headers: [
            { name: 'x-tenant', exact: 'a' },
            { name: 'x-debug', present: true, invert: true },
          ],
        },
      },
      { action: 'deny', http: { pathRegex: '^/admin/.*' } },
    ]);
    expect(list[0]!.description).toBe('no');
    expect(warnings).toEqual(['service-intentions: malformed entries skipped']);
  });

  it("computes Consul's precedence table", () => {
    expect(intentionPrecedence('default', 'api', 'default', 'web')).toBe(9);
    expect(intentionPrecedence('default', '*', 'default', 'web')).toBe(8);
    expect(intentionPrecedence('*', '*', 'default', 'web')).toBe(7);
    expect(intentionPrecedence('default', 'api', 'default', '*')).toBe(6);
    expect(intentionPrecedence('default', '*', 'default', '*')).toBe(5);
    expect(intentionPrecedence('*', '*', '*', '*')).toBe(1);
  });

  it('reads the default decision from authorize answers, unknown when an intention matched', () => {
    const answer = (Authorized: boolean, Reason: string) => JSON.stringify({ Authorized, Reason });
    expect(defaultFromAuthorize(answer(true, 'ACLs disabled, access is allowed by default'))).toBe(true);
    expect(defaultFromAuthorize(answer(false, 'Default behavior configured by ACLs'))).toBe(false);
    expect(defaultFromAuthorize(answer(true, 'Default behavior configured by ACLs'))).toBe(true);
    expect(
      defaultFromAuthorize(
        answer(false, 'Matched intention: DENY default/* => default/* (ID: x, Precedence: 5)'),
      ),
    ).toBeUndefined();
    expect(defaultFromAuthorize('{"Authorized":"yes","Reason":"ACLs disabled"}')).toBeUndefined();
    expect(defaultFromAuthorize('nope')).toBeUndefined();
  });
});

const CONFIG = '/v1/config/service-intentions';
const LEGACY = '/v1/connect/intentions';
const ROOTS_BODY = JSON.stringify({ TrustDomain: 'abc.consul', Roots: [] });

function recordingLogger() {
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  const log = (level: string) => (message: string, fields?: object) => {
    const line = `${level} ${message} ${JSON.stringify(fields ?? {})}`;
    lines.push(line);
    for (const w of waiters.filter((w) => w.re.test(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  /** The first line (logged from now on) matching `re`. */
  const line = (re: RegExp) => new Promise<string>((resolve) => waiters.push({ re, resolve }));
  return { logger, lines, line };
}

function nextSet(
  intentions: ConsulIntentions,
  predicate: (s: IntentionSet) => boolean,
): Promise<IntentionSet> {
  return new Promise((resolve) => {
    const sub = intentions.onDidChange((s) => {
      if (!predicate(s)) return;
      sub.dispose();
      resolve(s);
    });
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function authorizeWith(reasons: { Authorized: boolean; Reason: string }[], probes: string[]): Handler {
  return (_req, body, res) => {
    probes.push(JSON.parse(body).ClientCertURI);
    const r = reasons[Math.min(probes.length, reasons.length) - 1]!;
    res.writeHead(200).end(JSON.stringify(r));
  };
}

async function started(agent: Awaited<ReturnType<typeof scriptedAgent>>) {
  const { logger, lines, line } = recordingLogger();
  const intentions = new ConsulIntentions({ connection: agent.connection, service: 'web', logger });
  cleanups.push(() => agent.close());
  cleanups.push(async () => {
    intentions.dispose();
    await intentions.done;
  });
  return { intentions, lines, line };
}

describe('ConsulIntentions', () => {
  it('detects Consul 1.8 from the config request once, then follows the legacy list and learns the default', async () => {
    const probes: string[] = [];
    const agent = await scriptedAgent({
      '/v1/agent/connect/authorize': authorizeWith(
        [{ Authorized: true, Reason: 'ACLs disabled, access is allowed by default' }],
        probes,
      ),
      '/v1/agent/connect/ca/roots': (_q, _b, res) => res.writeHead(200).end(ROOTS_BODY),
    });
    agent.set(CONFIG, 'invalid config entry kind: service-intentions', 500);
    agent.set(LEGACY, JSON.stringify([legacy({ ID: 'x' })]));
    const { intentions } = await started(agent);
    const learned = nextSet(intentions, (s) => s.defaultAllow !== undefined);
    const first = await intentions.ready(5000);
    expect(first).toMatchObject({
      source: 'legacy',
      intentions: [{ id: 'x', source: 'api', action: 'allow' }],
    });
    expect(first.index).toBeGreaterThan(0);
    expect((await learned).defaultAllow).toBe(true);
    expect(probes[0]).toMatch(
      /^spiffe:\/\/abc\.consul\/ns\/default\/dc\/dc1\/svc\/meshless-probe-[0-9a-f]{12}$/,
    );
    expect(intentions.stats()).toMatchObject({ loaded: true, source: 'legacy', lastError: undefined });

    const added = nextSet(intentions, (s) => s.intentions.length === 2);
    agent.set(
      LEGACY,
      JSON.stringify([legacy({ ID: 'x' }), legacy({ ID: 'y', SourceName: 'db', Action: 'deny' })]),
    );
    expect((await added).defaultAllow).toBe(true); // known once: kept, not probed again
    expect(probes).toHaveLength(1);
    expect(agent.requests.filter((r) => r === `GET ${CONFIG}`)).toHaveLength(1);
  });

  it('uses the config entries on 1.9+ and emits nothing for changes to other destinations', async () => {
    const probes: string[] = [];
    const agent = await scriptedAgent({
      '/v1/agent/connect/authorize': authorizeWith(
        [{ Authorized: false, Reason: 'Default behavior configured by ACLs' }],
        probes,
      ),
      '/v1/agent/connect/ca/roots': (_q, _b, res) => res.writeHead(200).end(ROOTS_BODY),
    });
    agent.set(CONFIG, CONFIG_19);
    const { intentions } = await started(agent);
    const learned = nextSet(intentions, (s) => s.defaultAllow === false);
    expect((await intentions.ready(5000)).source).toBe('config-entry');
    await learned;
    let fired = 0;
    intentions.onDidChange(() => fired++);
    const other = JSON.parse(CONFIG_19);
    other[2].Sources.push({ Name: 'db', Action: 'deny' });
    agent.set(CONFIG, JSON.stringify(other));
    const mine = nextSet(intentions, (s) => s.intentions.length === 5);
    other[0].Sources.push({ Name: 'db', Action: 'deny' });
    agent.set(CONFIG, JSON.stringify(other));
    await mine;
    expect(fired).toBe(1);
    expect(agent.requests).not.toContain(`GET ${LEGACY}`);
  });

  it('probes again after each change while a wildcard intention hides the default', async () => {
    const probes: string[] = [];
    const agent = await scriptedAgent({
      '/v1/agent/connect/authorize': authorizeWith(
        [
          {
            Authorized: false,
            Reason: 'Matched intention: DENY default/* => default/* (ID: w, Precedence: 5)',
          },
          { Authorized: false, Reason: 'Default behavior configured by ACLs' },
        ],
        probes,
      ),
      '/v1/agent/connect/ca/roots': (_q, _b, res) => res.writeHead(200).end(ROOTS_BODY),
    });
    agent.set(CONFIG, 'invalid config entry kind: service-intentions', 500);
    agent.set(
      LEGACY,
      JSON.stringify([legacy({ ID: 'w', SourceName: '*', DestinationName: '*', Action: 'deny' })]),
    );
    const { intentions } = await started(agent);
    expect((await intentions.ready(5000)).defaultAllow).toBeUndefined();
    const learned = nextSet(intentions, (s) => s.defaultAllow === false);
    agent.set(LEGACY, '[]');
    expect((await learned).intentions).toEqual([]);
    expect(probes.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the last known set when a load fails, and says so', async () => {
    const agent = await scriptedAgent({
      '/v1/agent/connect/authorize': authorizeWith([{ Authorized: true, Reason: 'ACLs disabled' }], []),
      '/v1/agent/connect/ca/roots': (_q, _b, res) => res.writeHead(200).end(ROOTS_BODY),
    });
    agent.set(CONFIG, 'invalid config entry kind: service-intentions', 500);
    agent.set(LEGACY, JSON.stringify([legacy({ ID: 'x' })]));
    const { intentions, line } = await started(agent);
    const first = await intentions.ready(5000);
    const failed = line(/^warn intentions: load failed/);
    agent.set(LEGACY, 'No cluster leader', 500);
    expect(await failed).toMatch(/1 intentions \(last known\)/);
    expect(intentions.stats().lastError).toMatch(/HTTP 500/);
    expect(intentions.current()!.intentions).toBe(first.intentions);
  });

  it('ready() rejects with a ConsulError after its timeout (injected clock) and on dispose', async () => {
    const agent = await scriptedAgent();
    cleanups.push(() => agent.close());
    const clock = new ManualClock();
    const intentions = new ConsulIntentions({ connection: agent.connection, service: 'web', clock });
    const timedOut = intentions.ready(2000);
    const disposed = intentions.ready(60_000);
    clock.advance(2000);
    const error = await timedOut.catch((e) => e);
    expect(error).toBeInstanceOf(ConsulError);
    expect(error.message).toMatch(/not ready in 2000 ms/);
    intentions.dispose();
    await expect(disposed).rejects.toThrow(/disposed/);
    await intentions.done;
    expect(intentions.current()).toBeUndefined();
  });
});
