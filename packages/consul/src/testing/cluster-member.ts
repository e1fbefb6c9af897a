import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isRunning, leaderOf, signalAgent, spawnAgent, waitForLeader } from './agent-process.ts';
import type { DevAgentPorts } from './dev-agent.ts';

export interface ClusterMemberSpec {
  /** `server` or `client` agent. */
  role: 'server' | 'client';
  /** Node name, unique in the cluster. */
  node: string;
  /** Loopback address it binds (serf, RPC) and serves HTTP on, e.g. `127.0.0.2`. */
  host: string;
  /** Its own directory: `data/` and `consul.log`. */
  dir: string;
  binary: string;
}

/**
 * One agent of a ConsulCluster: its address, ports and data directory stay the same across
 * restarts, so a restarted server rejoins with its Raft log and a restarted client with its node id.
 */
export class ClusterMember {
  readonly role: 'server' | 'client';
  readonly node: string;
  readonly host: string;
  readonly ports: DevAgentPorts;
  readonly dataDir: string;
  readonly logFile: string;
  private readonly binary: string;
  private child: ChildProcess | undefined;
  private failed: Promise<never> | undefined;

  constructor(spec: ClusterMemberSpec, ports: DevAgentPorts) {
    this.role = spec.role;
    this.node = spec.node;
    this.host = spec.host;
    this.ports = ports;
    this.binary = spec.binary;
    this.dataDir = join(spec.dir, 'data');
    this.logFile = join(spec.dir, 'consul.log');
    mkdirSync(this.dataDir, { recursive: true });
  }

  /** Free ports on `host`; DNS disabled (-1): no test here asks it, and it is one port less to race for. */
  static async freePorts(host: string): Promise<DevAgentPorts> {
    const [http, serfLan, serfWan, server] = await Promise.all([1, 2, 3, 4].map(() => freePort(host)));
    return { http: http!, dns: -1, serfLan: serfLan!, serfWan: serfWan!, server: server! };
  }

  /** `<host>:<http port>` */
  get address(): string {
    return `${this.host}:${this.ports.http}`;
  }

  get url(): string {
    return `http://${this.address}`;
  }

  /** `<host>:<serf LAN port>`, what other agents join. */
  get serfAddress(): string {
    return `${this.host}:${this.ports.serfLan}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** Starts the agent (no-op when it runs); `join`: the serf addresses to retry-join, `extra`: more flags. */
  start(join: readonly string[], extra: readonly string[]): void {
    if (this.running) return;
    const p = this.ports;
    const args = [
      'agent',
      ...(this.role === 'server' ? ['-server'] : []),
      `-bind=${this.host}`,
      `-client=${this.host}`,
      `-node=${this.node}`,
      `-data-dir=${this.dataDir}`,
      '-disable-host-node-id',
      `-http-port=${p.http}`,
      `-dns-port=${p.dns}`,
      `-serf-lan-port=${p.serfLan}`,
      `-serf-wan-port=${p.serfWan}`,
      `-server-port=${p.server}`,
      '-grpc-port=-1',
      '-log-level=warn',
      // Consul's default retry interval is 30 s: a restarted agent whose snapshot join failed
      // would sit alone that long.
      '-retry-interval=1s',
      ...join.map((a) => `-retry-join=${a}`),
      // Check output reaches the servers at once (see ConsulDevAgent).
      '-hcl=check_update_interval = "0s"',
      ...extra,
    ];
    const agent = spawnAgent(this.binary, args, this.logFile);
    this.child = agent.child;
    this.failed = agent.failed;
  }

  /** Sends `sig` and waits for the exit (SIGKILL after `graceMs` when > 0). */
  stop(sig: NodeJS.Signals, graceMs = 0): Promise<void> {
    return signalAgent(this.child, sig, graceMs);
  }

  /** The leader this agent names now (undefined: none, or no answer). */
  leader(): Promise<string | undefined> {
    return leaderOf(this.url);
  }

  /** Waits until this agent names a leader; rejects early if it exits. */
  async waitForLeader(timeoutMs: number): Promise<string> {
    return waitForLeader(
      this.url,
      timeoutMs,
      `consul ${this.role} ${this.node} on ${this.address}`,
      this.failed,
    );
  }

  /** Waits until its HTTP API answers at all (a 500 "No cluster leader" counts: it is up). */
  async waitForHttp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`consul ${this.role} ${this.node} exited; log: ${this.logFile}`);
      try {
        await fetch(`${this.url}/v1/agent/self`, { signal: AbortSignal.timeout(1000) }).then((r) => r.text());
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(
      `consul ${this.role} ${this.node} on ${this.address} not answering after ${timeoutMs} ms`,
    );
  }

  /** The last `bytes` of its log, for error messages (the directory goes with close()). */
  logTail(bytes = 1500): string {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text.slice(-bytes);
    } catch {
      return '';
    }
  }
}
