// nginx as a sidecar stand-in: terminates mutual TLS (a server certificate and key, client
// certificates verified against given roots) and proxies plain HTTP/1.1 over keep-alive
// connections to one upstream on loopback. A child process with its own prefix, config, pid file
// and error log in a temp directory; stop() kills it and removes the directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids } from './proc-cpu.ts';

export interface NginxSite {
  /** Loopback port nginx listens on with TLS. */
  port: number;
  certPem: string;
  keyPem: string;
}

export interface NginxSidecar {
  /** The master's and its workers' pids (for their CPU). */
  pids(): number[];
  stop(): Promise<void>;
}

/** The nginx binary: BENCH_NGINX, else on the PATH or in /usr/sbin, or undefined. */
export function findNginx(): string | undefined {
  if (process.env.BENCH_NGINX) return process.env.BENCH_NGINX;
  const found = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' });
  return found.stdout.trim().split('\n')[0] || undefined;
}

export async function startNginxSidecar(
  binary: string,
  options: { sites: readonly NginxSite[]; rootsPem: string; upstreamPort: number },
): Promise<NginxSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'meshless-nginx-zt-'));
  writeFileSync(join(dir, 'roots.pem'), options.rootsPem, { mode: 0o600 });
  const servers = options.sites.map((site, i) => {
    writeFileSync(join(dir, `site${i}.pem`), site.certPem, { mode: 0o600 });
    writeFileSync(join(dir, `site${i}.key`), site.keyPem, { mode: 0o600 });
    return `  server {
    listen 127.0.0.1:${site.port} ssl;
    ssl_certificate ${dir}/site${i}.pem;
    ssl_certificate_key ${dir}/site${i}.key;
    location / { proxy_pass http://upstream_plain; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }`;
  });
  // Certificates and keys are read by the master before it forks; keep-alive without a request
  // cap on both sides (nginx closes a connection after 1000 requests by default).
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_timeout 60s; keepalive_requests 100000000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:zt:1m;
  ssl_client_certificate ${dir}/roots.pem;
  ssl_verify_client on;
  ssl_verify_depth 2;
  upstream upstream_plain {
    server 127.0.0.1:${options.upstreamPort};
    keepalive 512; keepalive_requests 100000000; keepalive_timeout 60s;
  }
${servers.join('\n')}
}
`,
  );
  const child: ChildProcess = spawn(
    binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process on;'],
    { stdio: 'ignore' },
  );
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const site of options.sites) await waitForPort(site.port, child, 5000, () => spawnError);
  } catch (error) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000);
    } catch {}
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${log}`);
  }
  return { pids: () => (child.pid ? [child.pid, ...childPids(child.pid)] : []), stop };
}

/** Resolves once `port` accepts a TCP connection; rejects if `child` exits or after `ms`. */
async function waitForPort(
  port: number,
  child: ChildProcess,
  ms: number,
  spawnError: () => Error | undefined,
): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const error = spawnError();
    if (error) throw error;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not open within ${ms} ms`);
}
