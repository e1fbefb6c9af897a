import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { consulAddress } from './consul.ts';

// The Nest fixture apps (test/fixtures/nestjs*) as a team runs them: compiled by tsc with their
// own tsconfig (legacy decorators, type metadata), then started as a process of their own.

/** Compiles a fixture with `tsc -p tsconfig` (outDir from it unless given); type errors fail it. */
export async function compileNestApp(root: string, tsconfig: string, outDir?: string): Promise<void> {
  const args = [`${root}node_modules/.bin/tsc`, '-p', tsconfig, ...(outDir ? ['--outDir', outDir] : [])];
  // tsc reports type errors on stdout: show them.
  await promisify(execFile)(process.execPath, args, { cwd: root }).catch((e) => {
    throw new Error(`tsc failed:\n${e.stdout}${e.stderr}`);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface NestApp {
  readonly child: ChildProcess;
  readonly port: number;
  /** The service id the app printed once it listened. */
  readonly ready: string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts a compiled app registered as `id` of `service` under KV `prefix`; resolves once it listens. */
export async function startNestApp(
  main: string,
  env: { prefix: string; service: string; id: string },
): Promise<NestApp> {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      CONSUL_HTTP_ADDR: consulAddress(),
      TEST_PREFIX: env.prefix,
      TEST_SERVICE: env.service,
      TEST_ID: env.id,
      TEST_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l).ready));
    void exited.then(({ code }) => reject(new Error(`app exited (${code}) before it was ready`)));
  });
  return { child, port, ready, exited };
}

export async function getJson(
  port: number,
  path: string,
): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
}
