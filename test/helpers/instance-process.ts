// An instance of a service in its own process (test/fixtures/http-instance.ts), registered in a
// Consul agent with a TTL check it keeps passing, so that a test, a bench or a chaos scenario can
// kill -9 it. Plain Node (no vitest).
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/http-instance.ts', import.meta.url));

export interface InstanceProcess {
  id: string;
  port: number;
  child: ChildProcess;
  /** Settles when the process has exited. */
  exited: Promise<void>;
  /** Sends SIGKILL; resolves with the time it was sent (performance.now()), once the process is gone. */
  kill(): Promise<number>;
}

export async function startInstanceProcess(
  consulAddress: string,
  service: string,
  id: string,
): Promise<InstanceProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, CONSUL_HTTP_ADDR: consulAddress, TEST_SERVICE: service, TEST_ID: id },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
    child.once('exit', (code) => reject(new Error(`instance ${id} exited with ${code}`)));
  });
  return {
    id,
    port,
    child,
    exited,
    kill: async () => {
      const at = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      return at;
    },
  };
}
