import { ConsulConnection, ConsulKv, resolveConsulOptions } from '@meshless/consul';
import { ConfigError, MeshlessError } from '@meshless/core';
import { CliError, EXIT, usageError } from './exit-codes.ts';
import { RuleHistory } from './history.ts';
import type { ResolvedIo } from './io.ts';

const REQUEST_TIMEOUT_MS = 10_000;

/** What a command that talks to Consul gets: the connection, KV and history, opened on first use. */
export interface ConsulSession {
  readonly address: string;
  /** To the agent (health, catalog: its own datacenter's instances). */
  readonly connection: ConsulConnection;
  /** The rules' KV, in the rules datacenter (`--datacenter`) when one is set. */
  readonly kv: ConsulKv;
  /** The connection `kv` uses when `--datacenter` names another datacenter (sessions live there too). */
  readonly kvConnection: ConsulConnection | undefined;
  readonly history: RuleHistory;
}

export class SessionHolder {
  private session: ConsulSession | undefined;
  private readonly address: string | undefined;
  private readonly prefix: string;
  private readonly io: ResolvedIo;
  private readonly datacenter: string | undefined;
  private kvConnection: ConsulConnection | undefined;

  /** `datacenter`: where the rules live (KV is per datacenter); undefined: the agent's own. */
  constructor(address: string | undefined, prefix: string, io: ResolvedIo, datacenter?: string) {
    this.address = address;
    this.prefix = prefix;
    this.io = io;
    this.datacenter = datacenter;
  }

  get(): ConsulSession {
    if (this.session) return this.session;
    let connection: ConsulConnection;
    try {
      const options = resolveConsulOptions(
        this.address === undefined ? {} : { address: this.address },
        this.io.env as NodeJS.ProcessEnv,
      );
      connection = new ConsulConnection(options);
      // A second pool to the same agent, whose every request names the rules datacenter (`?dc=`).
      if (this.datacenter !== undefined)
        this.kvConnection = new ConsulConnection({ ...options, datacenter: this.datacenter });
    } catch (error) {
      if (ConfigError.isInstance(error)) throw usageError(`--consul: ${(error as Error).message}`);
      throw error;
    }
    // Consul answers on loopback in milliseconds; a CLI should not hang on a black-holed address.
    const kv = new ConsulKv(this.kvConnection ?? connection, { timeoutMs: REQUEST_TIMEOUT_MS });
    this.session = {
      address: connection.address,
      connection,
      kv,
      kvConnection: this.kvConnection,
      history: new RuleHistory(kv, this.prefix, this.io.clock),
    };
    return this.session;
  }

  /** The address in use (or that would be), for error messages. */
  describe(): string {
    return this.session?.address ?? this.address ?? this.io.env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500';
  }

  async close(): Promise<void> {
    await this.session?.connection.close();
    await this.kvConnection?.close();
  }
}

/** Turns a Consul failure into the message an operator can act on. */
export function consulFailure(error: unknown, address: string): CliError | undefined {
  if (!MeshlessError.isInstance(error)) return undefined;
  if (error.code !== 'MESHLESS_CONSUL' && error.code !== 'MESHLESS_CONSUL_PERMISSION_DENIED')
    return undefined;
  const status = (error as { status?: number }).status;
  if (status === undefined) {
    const code = (error.cause as { code?: string } | undefined)?.code;
    const why = code ?? error.message;
    return new CliError(
      EXIT.consul,
      `cannot reach Consul at ${address} (${why}); set --consul or CONSUL_HTTP_ADDR`,
    );
  }
  const hint = status === 403 ? '; check CONSUL_HTTP_TOKEN' : '';
  return new CliError(EXIT.consul, `Consul at ${address} refused the request: ${error.message}${hint}`);
}
