import type { IncomingMessage } from 'node:http';
import type { IntentionSet } from '@meshless/consul';
import { Emitter, type Logger } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { type DefaultDecision, InboundAuthorizer, type InboundMtlsMode } from './inbound-authorizer.ts';
import type { Intention } from './intention-types.ts';

const TD = '11111111-2222-3333-4444-555555555555.consul';
const id = (svc: string, td = TD) => `spiffe://${td}/ns/default/dc/dc1/svc/${svc}`;

let ids = 0;
function l4(source: string, action: 'allow' | 'deny'): Intention {
  return Object.freeze({
    id: `i${++ids}`,
    source,
    action,
    permissions: undefined,
    precedence: source === '*' ? 8 : 9,
    description: '',
  });
}
function set(intentions: Intention[], defaultAllow: boolean | undefined = false): IntentionSet {
  return { intentions, defaultAllow, source: 'legacy', index: ++ids };
}

class FakeIntentions {
  value: IntentionSet | undefined;
  private readonly emitter = new Emitter<IntentionSet>();
  readonly onDidChange = this.emitter.event;
  constructor(value?: IntentionSet) {
    this.value = value;
  }
  current(): IntentionSet | undefined {
    return this.value;
  }
  fire(next: IntentionSet): void {
    this.value = next;
    this.emitter.fire(next);
  }
}

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function setup(
  options: { intentions?: IntentionSet; mode?: InboundMtlsMode; defaultDecision?: DefaultDecision } = {},
) {
  const intentions = new FakeIntentions(options.intentions);
  const logger = recordingLogger();
  const clock = new ManualClock(1000);
  const decided: [string, string, boolean][] = [];
  const plaintext: [string, string][] = [];
  let trustDomain: string | undefined = TD;
  const authorizer = new InboundAuthorizer(
    {
      service: 'api',
      intentions,
      trustDomain: () => trustDomain,
      defaultDecision: options.defaultDecision ?? 'consul',
      logger,
      clock,
      observer: {
        decided: (service, source, allowed) => decided.push([service, source, allowed]),
        plaintext: (service, caller) => plaintext.push([service, caller]),
      },
    },
    options.mode ?? 'permissive',
  );
  return {
    authorizer,
    intentions,
    logger,
    clock,
    decided,
    plaintext,
    setTrustDomain: (td: string | undefined) => {
      trustDomain = td;
    },
  };
}

/** A request on a plain connection, as the authorizer reads it. */
function plainReq(): IncomingMessage {
  return {
    socket: { encrypted: undefined },
    method: 'GET',
    url: '/',
    headersDistinct: {},
  } as unknown as IncomingMessage;
}
/** A request on a verified TLS connection whose certificate names `uri` (one socket per call: one connection). */
function tlsReq(uri: string, socket = tlsSocket(uri)): IncomingMessage {
  return { socket, method: 'GET', url: '/orders', headersDistinct: {} } as unknown as IncomingMessage;
}
function tlsSocket(uri: string) {
  return {
    encrypted: true,
    authorized: true,
    remoteAddress: '127.0.0.1',
    getPeerCertificate: () => ({ subjectaltname: `URI:${uri}` }),
  };
}

describe('InboundAuthorizer: plain requests', () => {
  it('permissive: passes, counted by the claimed caller, req.meshless set with no peer', () => {
    const t = setup({ intentions: set([]) });
    const req = plainReq();
    expect(t.authorizer.check(req, 'legacy')).toBeUndefined();
    expect(req.meshless).toEqual({ peer: undefined });
    expect(t.authorizer.check(plainReq(), undefined)).toBeUndefined();
    expect(t.plaintext).toEqual([
      ['api', 'legacy'],
      ['api', ''],
    ]);
    expect(t.decided).toEqual([]);
  });

  it('strict: 403 MESHLESS_MTLS_REQUIRED, not counted as plain traffic, req.meshless unset', () => {
    const t = setup({ intentions: set([]), mode: 'strict' });
    const req = plainReq();
    expect(t.authorizer.check(req, 'legacy')).toEqual({
      status: 403,
      reason: 'mtls_required',
      code: 'MESHLESS_MTLS_REQUIRED',
    });
    expect(req.meshless).toBeUndefined();
    expect(t.plaintext).toEqual([]);
    expect(t.logger.lines).toMatchObject([{ level: 'warn', fields: { service: 'api', source: 'legacy' } }]);
  });

  it('strict: a claimed caller of any length reaches the log cut to 128 characters', () => {
    const t = setup({ intentions: set([]), mode: 'strict' });
    t.authorizer.check(plainReq(), 'x'.repeat(10_000));
    expect(t.logger.lines[0]?.fields?.source).toBe(`${'x'.repeat(128)}…`);
  });

  it('follows a change of mode (the inbound rule) from the next request', () => {
    const t = setup({ intentions: set([]) });
    expect(t.authorizer.check(plainReq(), 'legacy')).toBeUndefined();
    t.authorizer.mode = 'strict';
    expect(t.authorizer.check(plainReq(), 'legacy')?.code).toBe('MESHLESS_MTLS_REQUIRED');
    t.authorizer.mode = 'permissive';
    expect(t.authorizer.check(plainReq(), 'legacy')).toBeUndefined();
    expect(t.plaintext).toHaveLength(2);
  });
});

describe('InboundAuthorizer: mutual TLS', () => {
  it('allows by intention, sets the verified peer and counts the decision', () => {
    const t = setup({ intentions: set([l4('web', 'allow')]) });
    const req = tlsReq(id('web'));
    expect(t.authorizer.check(req, 'anything-the-header-says')).toBeUndefined();
    expect(req.meshless?.peer).toEqual({
      spiffeId: id('web'),
      service: 'web',
      datacenter: 'dc1',
      trustDomain: TD,
      namespace: 'default',
    });
    expect(t.decided).toEqual([['api', 'web', true]]);
    expect(t.plaintext).toEqual([]);
  });

  it('denies by intention with 403 MESHLESS_INTENTION_DENIED, logging the matched intention', () => {
    const deny = l4('web', 'deny');
    const t = setup({ intentions: set([deny], true) });
    const req = tlsReq(id('web'));
    expect(t.authorizer.check(req, undefined)).toEqual({
      status: 403,
      reason: 'intention_denied',
      code: 'MESHLESS_INTENTION_DENIED',
    });
    expect(req.meshless).toBeUndefined();
    expect(t.decided).toEqual([['api', 'web', false]]);
    expect(t.logger.lines).toEqual([
      {
        level: 'warn',
        message: 'call denied by intention',
        fields: {
          service: 'api',
          source: 'web',
          caller: id('web'),
          method: 'GET',
          intention: { id: deny.id, source: 'web', precedence: 9, permission: undefined },
        },
      },
    ]);
  });

  it("no intention matches: Consul's default, or the setting's", () => {
    expect(
      setup({ intentions: set([], true) }).authorizer.check(tlsReq(id('web')), undefined),
    ).toBeUndefined();
    expect(setup({ intentions: set([], false) }).authorizer.check(tlsReq(id('web')), undefined)?.code).toBe(
      'MESHLESS_INTENTION_DENIED',
    );
    // Consul's default unknown (a wildcard hid it): fail closed.
    expect(
      setup({ intentions: set([], undefined) }).authorizer.check(tlsReq(id('web')), undefined)?.code,
    ).toBe('MESHLESS_INTENTION_DENIED');
    const allow = setup({ intentions: set([], false), defaultDecision: 'allow' });
    expect(allow.authorizer.check(tlsReq(id('web')), undefined)).toBeUndefined();
    const deny = setup({ intentions: set([], true), defaultDecision: 'deny' });
    expect(deny.authorizer.check(tlsReq(id('web')), undefined)?.code).toBe('MESHLESS_INTENTION_DENIED');
    expect(deny.logger.lines[0]?.fields?.intention).toBe('none matched: the default decision (deny)');
  });

  it('refuses a foreign trust domain with 403 MESHLESS_PEER_UNTRUSTED, before any decision', () => {
    const t = setup({ intentions: set([l4('web', 'allow')]) });
    const foreign = id('web', '99999999-2222-3333-4444-555555555555.consul');
    expect(t.authorizer.check(tlsReq(foreign), undefined)).toEqual({
      status: 403,
      reason: 'peer_untrusted',
      code: 'MESHLESS_PEER_UNTRUSTED',
    });
    expect(t.decided).toEqual([]);
    expect(t.logger.lines[0]).toMatchObject({ level: 'warn', fields: { source: '127.0.0.1' } });
    // The cluster's trust domain not known: nobody is trusted.
    t.setTrustDomain(undefined);
    expect(t.authorizer.check(tlsReq(id('web')), undefined)?.code).toBe('MESHLESS_PEER_UNTRUSTED');
    t.setTrustDomain(TD);
    expect(t.authorizer.check(tlsReq(id('web')), undefined)).toBeUndefined();
  });

  it('refuses mutual TLS with 503 MESHLESS_INTENTIONS_UNAVAILABLE until the intentions first load', () => {
    const t = setup();
    expect(t.authorizer.loaded).toBe(false);
    expect(t.authorizer.check(tlsReq(id('web')), undefined)).toEqual({
      status: 503,
      reason: 'intentions_unavailable',
      code: 'MESHLESS_INTENTIONS_UNAVAILABLE',
    });
    // Plain requests in permissive mode do not depend on the intentions.
    expect(t.authorizer.check(plainReq(), 'legacy')).toBeUndefined();
    t.intentions.fire(set([l4('web', 'allow')]));
    expect(t.authorizer.loaded).toBe(true);
    expect(t.authorizer.check(tlsReq(id('web')), undefined)).toBeUndefined();
    expect(t.decided).toEqual([['api', 'web', true]]);
  });

  it('applies a changed set from the next request, and no longer after dispose', () => {
    const t = setup({ intentions: set([l4('web', 'allow')]) });
    const socket = tlsSocket(id('web'));
    expect(t.authorizer.check(tlsReq(id('web'), socket), undefined)).toBeUndefined();
    t.intentions.fire(set([l4('web', 'deny')], true));
    expect(t.authorizer.check(tlsReq(id('web'), socket), undefined)?.code).toBe('MESHLESS_INTENTION_DENIED');
    t.authorizer.dispose();
    t.intentions.fire(set([l4('web', 'allow')]));
    expect(t.authorizer.check(tlsReq(id('web'), socket), undefined)?.code).toBe('MESHLESS_INTENTION_DENIED');
  });

  it('logs a denied source at most once per 10 s (manual clock), each source on its own', () => {
    const t = setup({ intentions: set([l4('web', 'deny'), l4('batch', 'deny')], true) });
    const denied = () => t.logger.lines.filter((l) => l.message === 'call denied by intention').length;
    for (let i = 0; i < 5; i++) t.authorizer.check(tlsReq(id('web')), undefined);
    expect(denied()).toBe(1);
    t.authorizer.check(tlsReq(id('batch')), undefined);
    expect(denied()).toBe(2);
    t.clock.advance(9_999);
    t.authorizer.check(tlsReq(id('web')), undefined);
    expect(denied()).toBe(2);
    t.clock.advance(1);
    t.authorizer.check(tlsReq(id('web')), undefined);
    expect(denied()).toBe(3);
    // Every decision is counted, logged or not.
    expect(t.decided.filter(([, s]) => s === 'web')).toHaveLength(7);
  });
});
