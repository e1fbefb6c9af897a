import {
  ConnectIdentity,
  type ConnectMaterial,
  type ConsulConnection,
  ConsulIntentions,
  type IntentionSet,
} from '@meshless/consul';
import { type Clock, type Disposable, type Logger, type Random, serverIdentityProblem } from '@meshless/core';
import type { ClientTls } from '../client/transport.ts';
import {
  type AuthorizationObserver,
  type DefaultDecision,
  InboundAuthorizer,
  type InboundMtlsMode,
} from './inbound-authorizer.ts';
import { TlsCredentials } from './tls-credentials.ts';

function current(watch: { failures: number; lastError: string | undefined }): string | undefined {
  return watch.failures > 0 ? watch.lastError : undefined;
}

/** `createMesh({ zeroTrust })`: identities from Consul's CA, mutual TLS, intentions enforced in-process. */
export interface ZeroTrustOptions {
  /**
   * What the service accepts until its `inbound` rule sets `mtls`: `permissive` (plain and mutual
   * TLS; plain requests are counted per caller, for the migration) or `strict` (mutual TLS only).
   * Default `permissive`.
   */
  inbound?: InboundMtlsMode;
  /**
   * The decision when no intention applies: `consul` follows Consul's ACL default policy (deny
   * with ACLs default-deny, allow with ACLs off), or `allow` / `deny`. Default `consul`.
   */
  defaultDecision?: DefaultDecision;
  /** Also write the certificate, key and roots here (files 0600). Default: memory only. */
  certificateDir?: string;
}

export interface ZeroTrustStatus {
  readonly spiffeId: string | undefined;
  readonly trustDomain: string | undefined;
  readonly certificateValidBefore: string | undefined;
  /** The leaf's serial number as Consul gives it (a renewal or rotation gives a new one). */
  readonly certificateSerial: string | undefined;
  /** CA certificates trusted: the listed roots and their intermediates (3 during a rotation: old, new, new cross-signed). */
  readonly roots: number;
  readonly intentions: {
    readonly loaded: boolean;
    readonly count: number;
    readonly source: string | undefined;
    readonly defaultAllow: boolean | undefined;
  };
  /** The error of a Consul watch failing now (undefined once it answers again). */
  readonly lastError: string | undefined;
}

interface ZeroTrustParts {
  connection: ConsulConnection;
  /** The registered service name: its certificate and its intentions. */
  service: string;
  logger: Logger;
  clock: Clock;
  random: Random;
  options: ZeroTrustOptions;
}

/**
 * The instance's part in the mesh's security: its identity (leaf certificate and roots, followed
 * live), the client side of mutual TLS, and the intentions its inbound guard enforces.
 */
export class ZeroTrust implements Disposable {
  readonly credentials: TlsCredentials;
  readonly clientTls: ClientTls;
  private readonly identity: ConnectIdentity;
  private readonly intentions: ConsulIntentions;

  constructor(private readonly parts: ZeroTrustParts) {
    const { connection, service, logger, clock, random, options } = parts;
    this.identity = new ConnectIdentity({
      connection,
      service,
      logger,
      clock,
      random,
      ...(options.certificateDir ? { certificateDir: options.certificateDir } : {}),
    });
    this.intentions = new ConsulIntentions({ connection, service, logger, clock, random });
    this.credentials = new TlsCredentials(this.identity, logger);
    const credentials = this.credentials;
    this.clientTls = {
      context: () => credentials.clientContext(),
      verifyServer: (san, target, datacenter) =>
        serverIdentityProblem(san, target, credentials.trustDomain, datacenter ?? credentials.datacenter),
      onDidChange: credentials.onDidChange,
    };
  }

  /** Resolves when the certificate and the intentions have arrived, or after `timeoutMs` (then requests fail closed until they do). */
  async ready(timeoutMs: number): Promise<void> {
    const results = await Promise.allSettled([
      this.identity.ready(timeoutMs),
      this.intentions.ready(timeoutMs),
    ]);
    for (const r of results) {
      if (r.status === 'rejected') {
        this.parts.logger.warn('zero trust not ready in time; calls that need it fail closed until it is', {
          service: this.parts.service,
          error: (r.reason as Error)?.message ?? String(r.reason),
        });
      }
    }
  }

  /** The inbound side: who may call this service. */
  authorizer(mode: InboundMtlsMode, observer: AuthorizationObserver | undefined): InboundAuthorizer {
    const { service, logger, clock, options } = this.parts;
    return new InboundAuthorizer(
      {
        service,
        intentions: this.intentions,
        trustDomain: () => this.credentials.trustDomain,
        defaultDecision: options.defaultDecision ?? 'consul',
        logger,
        clock,
        observer,
      },
      mode,
    );
  }

  status(): ZeroTrustStatus {
    const material: ConnectMaterial | undefined = this.identity.current();
    const set: IntentionSet | undefined = this.intentions.current();
    const idStats = this.identity.stats();
    const inStats = this.intentions.stats();
    return {
      spiffeId: material?.spiffeId,
      trustDomain: material?.trustDomain,
      certificateValidBefore: idStats.validBefore,
      certificateSerial: material?.serial,
      roots: idStats.rootCount,
      intentions: {
        loaded: inStats.loaded,
        count: set?.intentions.length ?? 0,
        source: inStats.source,
        defaultAllow: set?.defaultAllow,
      },
      // Only while a watch is failing now: a recovered outage is not an error.
      lastError: current(idStats.leaf) ?? current(idStats.roots) ?? current(inStats.watch),
    };
  }

  dispose(): void {
    this.credentials.dispose();
    this.identity.dispose();
    this.intentions.dispose();
  }
}
