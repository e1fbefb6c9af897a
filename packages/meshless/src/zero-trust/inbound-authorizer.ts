import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { IntentionSet } from '@meshless/consul';
import { type Clock, type Disposable, type Event, type Logger, nullRecord } from '@meshless/core';
import { type AuthzRequest, type Decision, IntentionTable } from './intention-table.ts';
import { type MeshRequestInfo, peerVerdict, plainRequestInfo } from './peer-identity.ts';

/** `inbound.mtls`: permissive takes plain and mutual TLS (plain is counted per caller); strict only mutual TLS. */
export type InboundMtlsMode = 'permissive' | 'strict';

/** Who decides when no intention applies: Consul's ACL default policy, or this setting. */
export type DefaultDecision = 'consul' | 'allow' | 'deny';

/** A refused request: status, stable code, and the reason for the log (never the response body). */
export interface Refusal {
  readonly status: 403 | 503;
  readonly reason: 'intention_denied' | 'mtls_required' | 'peer_untrusted' | 'intentions_unavailable';
  readonly code: string;
}

/** Counts for the metrics: decisions by calling service, plain requests by the caller they claim. */
export interface AuthorizationObserver {
  decided(service: string, source: string, allowed: boolean): void;
  plaintext(service: string, claimedCaller: string): void;
}

export interface IntentionsSource {
  current(): IntentionSet | undefined;
  readonly onDidChange: Event<IntentionSet>;
}

export interface InboundAuthorizerOptions {
  service: string;
  intentions: IntentionsSource;
  /** The trust domain callers' certificates must name (this cluster's); undefined until known. */
  trustDomain: () => string | undefined;
  defaultDecision: DefaultDecision;
  logger: Logger;
  clock: Clock;
  observer?: AuthorizationObserver | undefined;
}

const refusals = {
  denied: Object.freeze({ status: 403, reason: 'intention_denied', code: 'MESHLESS_INTENTION_DENIED' }),
  plain: Object.freeze({ status: 403, reason: 'mtls_required', code: 'MESHLESS_MTLS_REQUIRED' }),
  untrusted: Object.freeze({ status: 403, reason: 'peer_untrusted', code: 'MESHLESS_PEER_UNTRUSTED' }),
  unloaded: Object.freeze({
    status: 503,
    reason: 'intentions_unavailable',
    code: 'MESHLESS_INTENTIONS_UNAVAILABLE',
  }),
} satisfies Record<string, Refusal>;

/** A request as the table reads it; the distinct headers are built only if an L7 permission asks. */
class RequestView implements AuthzRequest {
  private readonly req: IncomingMessage;
  constructor(req: IncomingMessage) {
    this.req = req;
  }
  get method(): string {
    return this.req.method ?? 'GET';
  }
  get path(): string {
    return this.req.url ?? '/';
  }
  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    // Repeated headers kept apart (Node joins some with ', ', drops others): Envoy's view.
    return this.req.headersDistinct;
  }
}

/** One log line per source and reason per this long (a denied caller in a loop must not flood the log). */
const LOG_EVERY_MS = 10_000;
const MAX_LOGGED_SOURCES = 1024;

/**
 * Who may call this service: the verified caller's certificate (never a header) against the
 * service's intentions, prepared into a table on change. Fails closed until the intentions
 * first arrive; keeps the last known set while Consul is away. Plain requests pass in permissive
 * mode (counted per claimed caller, for the migration) and are refused in strict mode.
 */
export class InboundAuthorizer implements Disposable {
  /** Set from the `inbound` rule (`mtls`) or the code's default. */
  mode: InboundMtlsMode;
  private table: IntentionTable | undefined;
  private readonly subscription: Disposable;
  private readonly logged = new Map<string, number>();

  private readonly options: InboundAuthorizerOptions;

  // No parameter properties: the benches load this file with Node's type stripping.
  constructor(options: InboundAuthorizerOptions, mode: InboundMtlsMode) {
    this.options = options;
    this.mode = mode;
    const first = options.intentions.current();
    if (first) this.rebuild(first);
    this.subscription = options.intentions.onDidChange((set) => this.rebuild(set));
  }

  /** Whether intentions have been loaded (before that every mutual-TLS request is refused). */
  get loaded(): boolean {
    return this.table !== undefined;
  }

  /**
   * Undefined when the request may go on (and `req.meshless` is set), else why not. `claimedCaller`
   * is the caller header, used only to count plain requests.
   */
  check(req: IncomingMessage, claimedCaller: string | undefined): Refusal | undefined {
    const socket = req.socket as TLSSocket;
    if (socket.encrypted !== true) {
      if (this.mode === 'strict') {
        this.log('plain', claimedCaller ?? '(unnamed)', 'plain request refused: inbound.mtls is strict');
        return refusals.plain;
      }
      this.options.observer?.plaintext(this.options.service, claimedCaller ?? '');
      req.meshless = plainRequestInfo();
      return undefined;
    }
    const verdict = peerVerdict(socket, this.options.trustDomain());
    if (!verdict.trusted) {
      this.log('untrusted', socket.remoteAddress ?? '?', `caller refused: ${verdict.reason}`);
      return refusals.untrusted;
    }
    const table = this.table;
    const source = verdict.info.peer!.service;
    if (table === undefined) {
      this.log('unloaded', source, 'caller refused: the intentions have not been loaded yet');
      return refusals.unloaded;
    }
    const decision = table.decide(source, new RequestView(req));
    this.options.observer?.decided(this.options.service, source, decision.allowed);
    if (!decision.allowed) {
      this.logDenied(source, verdict.info, decision, req);
      return refusals.denied;
    }
    req.meshless = verdict.info;
    return undefined;
  }

  dispose(): void {
    this.subscription.dispose();
  }

  private rebuild(set: IntentionSet): void {
    const d = this.options.defaultDecision;
    // Consul's default not known yet (a wildcard intention hid it from the probe): deny, fail closed.
    const defaultAllow = d === 'consul' ? set.defaultAllow === true : d === 'allow';
    try {
      const table = IntentionTable.build(set.intentions, defaultAllow);
      if (table.problems.length > 0) {
        this.options.logger.warn('intentions: some could not be enforced as written; they deny', {
          service: this.options.service,
          problems: table.problems.slice(0, 10),
        });
      }
      this.table = table;
    } catch (error) {
      this.options.logger.error('intentions could not be prepared; keeping the previous set', {
        service: this.options.service,
        error,
      });
    }
  }

  private logDenied(source: string, info: MeshRequestInfo, decision: Decision, req: IncomingMessage): void {
    const i = decision.intention;
    this.log('denied', source, 'call denied by intention', {
      caller: info.peer?.spiffeId,
      method: req.method,
      intention: i
        ? { id: i.id, source: i.source, precedence: i.precedence, permission: decision.permission }
        : `none matched: the default decision (${this.options.defaultDecision})`,
    });
  }

  private log(
    kind: string,
    claimed: string,
    message: string,
    fields: Record<string, unknown> = nullRecord(),
  ): void {
    // A claimed caller is a request header: cut before it keys the map or reaches the log.
    const who = claimed.length > 128 ? `${claimed.slice(0, 128)}…` : claimed;
    const key = `${kind}\u0001${who}`;
    const now = this.options.clock.now();
    const last = this.logged.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    if (this.logged.size >= MAX_LOGGED_SOURCES) this.logged.clear();
    this.logged.set(key, now);
    this.options.logger.warn(message, { service: this.options.service, source: who, ...fields });
  }
}
