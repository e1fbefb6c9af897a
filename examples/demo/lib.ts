// Shared plumbing for the demo: Consul, child processes, and terminal output.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent, consulAvailable, freePort, freePorts } from '@meshless/consul/testing';

export const color = {
  dim: (s: string) => `\x1b[2m${s}\x1b[0m`,
  bold: (s: string) => `\x1b[1m${s}\x1b[0m`,
  green: (s: string) => `\x1b[32m${s}\x1b[0m`,
  red: (s: string) => `\x1b[31m${s}\x1b[0m`,
  yellow: (s: string) => `\x1b[33m${s}\x1b[0m`,
  cyan: (s: string) => `\x1b[36m${s}\x1b[0m`,
};

export function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export interface DemoConsul {
  address: string;
  uiUrl: string;
  kv: ConsulKv;
  connection: ConsulConnection;
  /** The dev agent the demo started (undefined when it uses your Consul). */
  agent?: ConsulDevAgent;
  stop(): Promise<void>;
}

/** Uses CONSUL_HTTP_ADDR when it answers; otherwise installs Consul if needed and starts a dev agent. */
export async function ensureConsul(root: string): Promise<DemoConsul> {
  const external = process.env.CONSUL_HTTP_ADDR;
  if (external) {
    const connection = new ConsulConnection({ address: external });
    try {
      await connection.json({ path: '/v1/status/leader', timeoutMs: 2000 });
      log(color.dim(`using the Consul agent at ${connection.address} (CONSUL_HTTP_ADDR)`));
      return {
        address: connection.address,
        uiUrl: `${connection.address}/ui`,
        kv: new ConsulKv(connection),
        connection,
        stop: () => connection.close(),
      };
    } catch {
      await connection.close();
      log(color.yellow(`CONSUL_HTTP_ADDR=${external} does not answer; starting a dev agent instead`));
    }
  }
  if (!consulAvailable()) {
    log(color.dim('no consul on the PATH; running scripts/install-consul.sh'));
    const r = spawnSync('bash', [`${root}/scripts/install-consul.sh`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('Consul is needed for the demo; see the message above');
  }
  // Prefer the well-known port so the UI link is the familiar one; fall back to free ports.
  const ports = await freePorts();
  if (await portFree(8500)) ports.http = 8500;
  const agent = await ConsulDevAgent.start({ ports, node: 'meshless-demo' });
  const connection = new ConsulConnection({ address: agent.address });
  log(color.dim(`started a Consul dev agent (pid ${agent.pid}) on ${agent.url}`));
  return {
    address: agent.url,
    uiUrl: `${agent.url}/ui`,
    kv: new ConsulKv(connection),
    connection,
    agent,
    stop: async () => {
      await connection.close();
      await agent.stop();
    },
  };
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface DemoProcess {
  name: string;
  child: ChildProcess;
  /** Resolves with the first JSON line matching `predicate`. */
  next(
    predicate: (msg: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  onMessage(fn: (msg: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

/** Starts `script` with Node (type stripping) and parses its stdout as JSON lines. */
export function startProcess(name: string, script: string, env: Record<string, string>): DemoProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env, DEMO_INSTANCE: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listeners: ((msg: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      log(color.dim(`[${name}] ${line}`));
      return;
    }
    for (const l of [...listeners]) l(msg);
  });
  return {
    name,
    child,
    onMessage: (fn) => listeners.push(fn),
    next(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no matching message in ${timeoutMs} ms`)),
          timeoutMs,
        );
        const fn = (msg: Record<string, unknown>) => {
          if (!predicate(msg)) return;
          listeners.splice(listeners.indexOf(fn), 1);
          clearTimeout(timer);
          resolve(msg);
        };
        listeners.push(fn);
      });
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

export { freePort };
