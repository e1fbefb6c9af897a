import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

  private constructor(
    ports: DevAgentPorts,
    private readonly options: DevAgentOptions,
  ) {
    this.ports = ports;
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
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
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
    const binary = this.options.binary ?? process.env.CONSUL_BIN ?? 'consul';
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
    const log = openSync(this.logFile, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', log, log] });
    this.process = child;
    child.unref();
    // If this process ends without stop() (a crash, an uncaught error), the agent goes with it
    // instead of living on as an orphan holding its ports.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (e) =>
        reject(new Error(`could not start ${binary}: ${e.message} (run scripts/install-consul.sh)`)),
      );
      child.once('exit', (code, sig) =>
        reject(new Error(`consul exited (${code ?? sig}) during start; log: ${this.logFile}`)),
      );
    });
    failed.catch(() => {});
    await Promise.race([this.waitForLeader(this.options.startTimeoutMs ?? 30_000), failed]);
  }

  private async waitForLeader(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/v1/status/leader`, { signal: AbortSignal.timeout(1000) });
        const leader = (await res.text()).trim();
        if (res.ok && leader !== '""' && leader !== '') return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `consul dev agent on ${this.address} has no leader after ${timeoutMs} ms; log: ${this.logFile}`,
    );
  }

  private async signal(sig: NodeJS.Signals, graceMs = 0): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    if (graceMs > 0) {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    } else await exited;
  }
}

/** Free TCP ports on 127.0.0.1 (the OS picks; we release them just before Consul binds). */
export async function freePorts(): Promise<DevAgentPorts> {
  const [http, dns, serfLan, serfWan, server] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  return { http: http!, dns: dns!, serfLan: serfLan!, serfWan: serfWan!, server: server! };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when a `consul` binary runs here. */
export function consulAvailable(binary = process.env.CONSUL_BIN ?? 'consul'): boolean {
  return spawnSync(binary, ['version'], { stdio: 'ignore' }).status === 0;
}
