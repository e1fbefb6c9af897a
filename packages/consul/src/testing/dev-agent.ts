import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  consulBinary,
  freePort,
  isRunning,
  signalAgent,
  spawnAgent,
  waitForLeader,
} from './agent-process.ts';

export interface DevAgentPorts {
  http: number;
  dns: number;
  serfLan: number;
  serfWan: number;
  server: number;
}

export interface DevAgentOptions {
  /** Reuse these ports (e.g. to restart an agent on the same address). Default: free ports. */
  ports?: DevAgentPorts;
  /** Node name. Default: `meshless-dev-<http port>`. */
  node?: string;
  /** `consul` binary. Default: CONSUL_BIN or `consul` on the PATH. */
  binary?: string;
  /** Wait this long for a leader. Default 30 s. */
  startTimeoutMs?: number;
  /** Extra agent flags. */
  args?: string[];
}

/**
 * A real Consul agent in dev mode (in-memory, single server, UI on) on free loopback ports.
 * Stop it with `stop()` (SIGTERM, then SIGKILL) or crash it with `kill9()`.
 */
export class ConsulDevAgent {
  readonly ports: DevAgentPorts;
  readonly logFile: string;
  private process: ChildProcess | undefined;
  private readonly dir: string;
  private readonly options: DevAgentOptions;

  private constructor(ports: DevAgentPorts, options: DevAgentOptions) {
    this.ports = ports;
    this.options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'meshless-consul-'));
    this.logFile = join(this.dir, 'consul.log');
  }

  static async start(options: DevAgentOptions = {}): Promise<ConsulDevAgent> {
    const ports = options.ports ?? (await freePorts());
    const agent = new ConsulDevAgent(ports, options);
    await agent.spawn();
    return agent;
  }

  /** `127.0.0.1:<http port>` */
  get address(): string {
    return `127.0.0.1:${this.ports.http}`;
  }

  get url(): string {
    return `http://${this.address}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return isRunning(this.process);
  }

  /** Crash: SIGKILL, no leave, no cleanup. Dev mode loses its data. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Graceful stop (SIGTERM, SIGKILL after 5 s). Idempotent. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 5000);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts the agent again on the same ports (after kill9/stop). */
  async restart(): Promise<void> {
    if (this.running) await this.signal('SIGTERM', 5000);
    await this.spawn();
  }

  private async spawn(): Promise<void> {
    const binary = consulBinary(this.options.binary);
    const p = this.ports;
    const args = [
      'agent',
      '-dev',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-node=${this.options.node ?? `meshless-dev-${p.http}`}`,
      `-http-port=${p.http}`,
      `-dns-port=${p.dns}`,
      `-serf-lan-port=${p.serfLan}`,
      `-serf-wan-port=${p.serfWan}`,
      `-server-port=${p.server}`,
      '-grpc-port=-1',
      '-log-level=warn',
      // Sync check output changes to the servers at once (default: only every 5 minutes when the
      // status stays the same), so the governance report is current in the catalog.
      '-hcl=check_update_interval = "0s"',
      ...(this.options.args ?? []),
    ];
    const agent = spawnAgent(binary, args, this.logFile);
    this.process = agent.child;
    await waitForLeader(
      this.url,
      this.options.startTimeoutMs ?? 30_000,
      `consul dev agent on ${this.address} (log: ${this.logFile})`,
      agent.failed,
    );
  }

  private signal(sig: NodeJS.Signals, graceMs = 0): Promise<void> {
    return signalAgent(this.process, sig, graceMs);
  }
}

/** Free TCP ports on `host` (the OS picks; we release them just before Consul binds). */
export async function freePorts(host = '127.0.0.1'): Promise<DevAgentPorts> {
  const [http, dns, serfLan, serfWan, server] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort(host)));
  return { http: http!, dns: dns!, serfLan: serfLan!, serfWan: serfWan!, server: server! };
}

/** True when a `consul` binary runs here. */
export function consulAvailable(binary = consulBinary()): boolean {
  return spawnSync(binary, ['version'], { stdio: 'ignore' }).status === 0;
}
