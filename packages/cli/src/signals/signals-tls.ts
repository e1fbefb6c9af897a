// The reader's side of mutual TLS: a Connect identity of its own (a leaf for `identity` from the
// local agent, and the roots, followed live by ConnectIdentity), and one keep-alive https agent
// per target service that presents it and checks the instance's certificate as the governed
// client does (chain against the Connect roots, SPIFFE id naming that service in this trust
// domain and datacenter). Created only when an instance is Connect-native.

import { Agent, request } from 'node:https';
import { ConnectIdentity, type ConsulConnection } from '@meshless/consul';
import { ConfigError, noopLogger, serverIdentityProblem } from '@meshless/core';
import { TlsCredentials } from 'meshless/contract';

/** The service name the reader's certificate names unless told otherwise (`--as`). */
export const DEFAULT_SIGNALS_IDENTITY = 'meshless-cli';

/** What one https read gave: the status and the text. */
export interface TlsAnswer {
  readonly status: number;
  /** undefined: over `maxBytes` */
  readonly text: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** How long the first mutual-TLS read waits for the reader's certificate. */
const IDENTITY_TIMEOUT_MS = 10_000;

/** `identity` checked as a Consul service name (it goes into the leaf's URL and SPIFFE id). */
export function checkSignalsIdentity(identity: string): string {
  if (typeof identity !== 'string' || !NAME.test(identity)) {
    throw new ConfigError(
      `identity: expected a service name ([A-Za-z0-9_.-], at most 63), got ${JSON.stringify(String(identity).slice(0, 80))}`,
      { path: 'identity' },
    );
  }
  return identity;
}

export class SignalsTls {
  readonly identity: string;
  private readonly connectIdentity: ConnectIdentity;
  private readonly credentials: TlsCredentials;
  private readonly agents = new Map<string, Agent>();
  private readonly maxSockets: number;
  private ready: Promise<string | undefined> | undefined;
  private closed = false;

  constructor(connection: ConsulConnection, identity: string, maxSockets: number) {
    this.identity = identity;
    this.connectIdentity = new ConnectIdentity({ connection, service: identity });
    this.credentials = new TlsCredentials(this.connectIdentity, noopLogger);
    this.maxSockets = maxSockets;
    // A renewed leaf or new roots: new agents, so no connection keeps the old certificate.
    this.credentials.onDidChange(() => this.dropAgents());
  }

  /** GET `url` of an instance of `service` over mutual TLS; rejects with the reason it could not. */
  async get(url: string, service: string, timeoutMs: number, maxBytes: number): Promise<TlsAnswer> {
    const problem = await this.identityProblem();
    if (problem !== undefined) throw new Error(problem);
    const signal = AbortSignal.timeout(timeoutMs);
    return new Promise<TlsAnswer>((resolve, reject) => {
      const req = request(url, {
        agent: this.agent(service),
        headers: { accept: 'application/json' },
        signal,
      });
      req.on('error', (error) => reject(signal.aborted ? signal.reason : error));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > maxBytes) {
          res.destroy();
          return resolve({ status, text: undefined });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > maxBytes) {
            res.destroy();
            resolve({ status, text: undefined });
          } else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => reject(signal.aborted ? signal.reason : error));
      });
      req.end();
    });
  }

  /** Stops following the certificate and ends every connection; resolves when the watches have ended. */
  close(): Promise<void> {
    this.closed = true;
    this.dropAgents();
    this.credentials.dispose();
    this.connectIdentity.dispose();
    // Before the caller closes the Consul connection: no blocking query is left on it.
    return this.connectIdentity.done;
  }

  /** Undefined once the reader has a certificate; else why it has none (waits for the first one once). */
  private async identityProblem(): Promise<string | undefined> {
    if (this.closed) return 'closed';
    if (this.credentials.ready) return undefined;
    this.ready ??= this.connectIdentity.ready(IDENTITY_TIMEOUT_MS).then(
      () => undefined,
      (error: Error) => error?.message ?? String(error),
    );
    const first = await this.ready;
    if (this.credentials.ready) return undefined;
    // Later reads do not wait again: the watches keep trying, and the answer says why not yet.
    const stats = this.connectIdentity.stats();
    const now = stats.leaf.lastError ?? stats.roots.lastError ?? first;
    return `no Connect certificate for ${this.identity}${now ? `: ${now}` : ''}`;
  }

  private agent(service: string): Agent {
    let agent = this.agents.get(service);
    if (agent) return agent;
    const credentials = this.credentials;
    agent = new Agent({
      keepAlive: true,
      maxSockets: this.maxSockets,
      secureContext: credentials.clientContext(),
      minVersion: 'TLSv1.2',
      // The governed client's check: the instance must be `service` of this trust domain and datacenter.
      checkServerIdentity: (_host, cert) => {
        const problem = serverIdentityProblem(
          cert.subjectaltname,
          service,
          credentials.trustDomain,
          credentials.datacenter,
        );
        return problem === undefined
          ? undefined
          : Object.assign(new Error(`server is not ${service}: ${problem}`), {
              code: 'ERR_TLS_CERT_ALTNAME_INVALID',
            });
      },
    });
    this.agents.set(service, agent);
    return agent;
  }

  private dropAgents(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
