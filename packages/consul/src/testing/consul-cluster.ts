import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consulBinary } from './agent-process.ts';
import { ClusterMember } from './cluster-member.ts';

export interface ConsulClusterOptions {
  /** Server agents, on 127.0.0.2, 127.0.0.3, ... Default 3. */
  servers?: number;
  /**
   * `performance { raft_multiplier = N }`: Raft's timeouts scale with it. Default 1 (elections in
   * about 3 s; what Consul recommends for production on decent machines); Consul's own default is 5.
   */
  raftMultiplier?: number;
  /** Client (non-server) agents, on the addresses after the servers (127.0.0.5, ...). Default 1. */
  clientAgents?: number;
  /** Extra flags for every agent. */
  args?: string[];
  /** `consul` binary. Default: CONSUL_BIN or `consul` on the PATH. */
  binary?: string;
  /** Wait this long for the first leader and the clients to see it. Default 60 s. */
  startTimeoutMs?: number;
}

/** How long restart/startAll wait for an agent to answer (and for a leader when there can be one). */
const AGENT_TIMEOUT_MS = 30_000;

/**
 * A real Consul cluster on loopback: `servers` server agents (`-server -bootstrap-expect=N`, each
 * its own data directory, address and ports, joined by -retry-join) and client agents joined to
 * them. An application talks to a client agent (`clientAddress`), as it would to its node's agent.
 * Servers can be killed and restarted on the same data and ports. `close()` kills everything and
 * removes the data.
 */
export class ConsulCluster {
  readonly servers: readonly ClusterMember[];
  readonly clients: readonly ClusterMember[];
  readonly raftMultiplier: number;
  private readonly dir: string;
  private readonly args: readonly string[];
  private closed = false;

  private constructor(
    dir: string,
    servers: ClusterMember[],
    clients: ClusterMember[],
    options: ConsulClusterOptions,
  ) {
    this.dir = dir;
    this.servers = servers;
    this.clients = clients;
    this.raftMultiplier = options.raftMultiplier ?? 1;
    this.args = options.args ?? [];
  }

  static async start(options: ConsulClusterOptions = {}): Promise<ConsulCluster> {
    const serverCount = options.servers ?? 3;
    const clientCount = options.clientAgents ?? 1;
    if (!Number.isInteger(serverCount) || serverCount < 1 || serverCount + clientCount > 250)
      throw new RangeError(`servers: expected an integer from 1, got ${serverCount}`);
    if (!Number.isInteger(clientCount) || clientCount < 0)
      throw new RangeError(`clientAgents: expected an integer from 0, got ${clientCount}`);
    const multiplier = options.raftMultiplier ?? 1;
    if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > 10)
      throw new RangeError(`raftMultiplier: expected an integer from 1 to 10, got ${multiplier}`);
    const binary = consulBinary(options.binary);
    const dir = mkdtempSync(join(tmpdir(), 'meshless-cluster-'));
    const member = async (role: 'server' | 'client', i: number, hostIndex: number) => {
      const host = `127.0.0.${hostIndex}`;
      const ports = await ClusterMember.freePorts(host);
      const node = `meshless-${role === 'server' ? 's' : 'c'}${i}-${ports.http}`;
      return new ClusterMember({ role, node, host, dir: join(dir, `${role}-${i}`), binary }, ports);
    };
    const servers = await Promise.all(
      Array.from({ length: serverCount }, (_, i) => member('server', i, 2 + i)),
    );
    const clients = await Promise.all(
      Array.from({ length: clientCount }, (_, i) => member('client', i, 2 + serverCount + i)),
    );
    const cluster = new ConsulCluster(dir, servers, clients, options);
    try {
      for (const s of servers) cluster.spawn(s);
      await cluster.waitForLeader(options.startTimeoutMs ?? 60_000);
      for (const c of clients) cluster.spawn(c);
      await Promise.all(clients.map((c) => c.waitForLeader(options.startTimeoutMs ?? 60_000)));
    } catch (error) {
      const logs = [...servers, ...clients].map((m) => `--- ${m.node}:\n${m.logTail()}`).join('\n');
      await cluster.close();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
    return cluster;
  }

  /** The first client agent's HTTP address (`127.0.0.5:<port>` with 3 servers): what meshless talks to. */
  get clientAddress(): string {
    const client = this.clients[0];
    if (!client) throw new Error('this cluster has no client agent (clientAgents: 0)');
    return client.address;
  }

  /** Server `i`'s HTTP address (`127.0.0.<2 + i>:<port>`). */
  serverAddress(i: number): string {
    return this.server(i).address;
  }

  /**
   * The index of the server the running servers agree leads, or undefined (none yet, they
   * disagree, or the one named is down: followers name a killed leader until they time it out).
   */
  async leader(): Promise<number | undefined> {
    const running = this.servers.filter((s) => s.running);
    if (running.length === 0) return undefined;
    const named = await Promise.all(running.map((s) => s.leader()));
    const first = named[0];
    if (first === undefined || named.some((n) => n !== first)) return undefined;
    const index = this.servers.findIndex((s) => `${s.host}:${s.ports.server}` === first);
    return index >= 0 && this.servers[index]!.running ? index : undefined;
  }

  /** Polls leader() every 50 ms until there is one; its index. */
  async waitForLeader(timeoutMs = AGENT_TIMEOUT_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const index = await this.leader();
      if (index !== undefined) return index;
      if (this.servers.every((s) => !s.running)) throw new Error('no consul server is running');
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the consul cluster has no leader after ${timeoutMs} ms (logs under ${this.dir})`);
  }

  /** Signals server `i` (default SIGKILL: a crash, no leave) and waits for it to exit. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.server(i).stop(signal, signal === 'SIGKILL' ? 0 : 5000);
  }

  /**
   * Starts server `i` again on its data directory and ports (stopping it first when it runs).
   * Waits until it answers, and when a majority of servers runs, until it names a leader.
   */
  async restart(i: number): Promise<void> {
    const server = this.server(i);
    await server.stop('SIGTERM', 5000);
    this.spawn(server);
    await this.waitForMember(server);
  }

  /** Kills every server (default SIGKILL), at once. */
  async killAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.servers.map((_, i) => this.kill(i, signal)));
  }

  /** Starts every server that is down, on its data and ports, and waits for a leader. */
  async startAll(timeoutMs = AGENT_TIMEOUT_MS): Promise<number> {
    for (const s of this.servers) this.spawn(s);
    await Promise.all(this.servers.map((s) => s.waitForHttp(timeoutMs)));
    return this.waitForLeader(timeoutMs);
  }

  /**
   * Restarts client agent `j` on its data and ports. SIGTERM (default) is a service manager's
   * restart: a client agent leaves the cluster on it (leave_on_terminate), so the servers drop its
   * node's services until it syncs them again; SIGKILL is a crash, and the node stays.
   */
  async restartClient(j = 0, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const client = this.clients[j];
    if (!client) throw new RangeError(`client: no client agent ${j} (of ${this.clients.length})`);
    await client.stop(signal, signal === 'SIGKILL' ? 0 : 5000);
    this.spawn(client);
    await this.waitForMember(client);
  }

  /** Kills every agent and removes their data. Idempotent; leaves no process or handle behind. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients, ...this.servers].map((m) => m.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private server(i: number): ClusterMember {
    const server = this.servers[i];
    if (!server) throw new RangeError(`server: no server ${i} (of ${this.servers.length})`);
    return server;
  }

  private spawn(member: ClusterMember): void {
    if (this.closed) throw new Error('the consul cluster is closed');
    const others = this.servers.filter((s) => s !== member).map((s) => s.serfAddress);
    const extra =
      member.role === 'server'
        ? [
            `-bootstrap-expect=${this.servers.length}`,
            `-hcl=performance { raft_multiplier = ${this.raftMultiplier} }`,
          ]
        : [];
    member.start(others, [...extra, ...this.args]);
  }

  private async waitForMember(member: ClusterMember): Promise<void> {
    await member.waitForHttp(AGENT_TIMEOUT_MS);
    const up = this.servers.filter((s) => s.running).length;
    if (up > this.servers.length / 2) await member.waitForLeader(AGENT_TIMEOUT_MS);
  }
}
