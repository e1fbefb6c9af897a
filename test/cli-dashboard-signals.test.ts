import { get, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from './helpers/backends.ts';
import { buildCli, spawnBuiltCli } from './helpers/built-cli.ts';
import { consulAddress, eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { serveThroughMesh } from './helpers/served-mesh.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
// The built command, in its own process: that is where Ctrl-C arrives.
beforeAll(buildCli, 180_000);

/** `meshless dashboard` as its own process; resolves once it has printed its URL. */
async function spawnDashboard(prefix: string, interval: string, window: string) {
  const { output, stop } = spawnBuiltCli(cleanup, [
    'dashboard',
    '--interval',
    interval,
    '--window',
    window,
    '--prefix',
    prefix,
    '--consul',
    consulAddress(),
  ]);
  await eventually(() => /http:\/\/127\.0\.0\.1:\d+\//.test(output.out), 15_000, `the URL: ${output.err}`);
  const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output.out)![1]!;
  return { url, output, stop };
}

/** One catalog instance answering through mesh.serve() (so it has signals to read) on a fresh prefix. */
async function startCatalog(name: string) {
  const prefix = uniquePrefix(name);
  const service = `catalog-${prefix.slice(-8)}`;
  const backends = await startFleet(service, prefix, [['v1', 'v1-a']]);
  cleanup(() => Promise.all(backends.map((b) => b.stop())).then(() => {}));
  serveThroughMesh(backends[0]!, (res) => res.end('{}'));
  return { prefix, service };
}

/** An open `GET /api/events` stream: the events so far, and whether the server ended it. */
async function openEvents(url: string) {
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${url}api/events`, { agent: false }, resolve).on('error', reject),
  );
  const stream = { data: '', ended: false };
  res.on('data', (d) => (stream.data += String(d)));
  res.on('close', () => (stream.ended = true));
  res.on('error', () => {}); // the server closing the stream may surface as a reset
  cleanup(() => {
    res.destroy();
  });
  return stream;
}

describe('meshless dashboard in its own process', () => {
  it('ends with exit 0 on SIGINT and on SIGTERM, its event stream closed, nothing printed but the URL', async () => {
    const { prefix, service } = await startCatalog('dash-sig');

    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const dash = await spawnDashboard(prefix, '500ms', '2s');
      const events = await openEvents(dash.url);
      // A reading has been served on the stream: the poller, the server and Consul are all in use.
      await eventually(() => events.data.includes(`"service":"${service}"`), 20_000, `a reading (${sig})`);
      const [code, signal] = await dash.stop(sig);
      expect([code, signal], `${sig}: ${dash.output.err}`).toEqual([0, null]);
      expect(events.ended).toBe(true);
      expect(dash.output.err, sig).toBe('');
      expect(dash.output.out.trim().split('\n'), sig).toEqual([
        expect.stringMatching(/^meshless dashboard at http:\/\/127\.0\.0\.1:\d+\/ /),
      ]);
    }
  });

  it('SIGINT during the first reading ends it at once, without reporting the interrupted reading as a failure', async () => {
    const { prefix } = await startCatalog('dash-sig1');

    // The first reading waits a whole interval (60 s) between its two scrapes: the signal lands in it.
    const dash = await spawnDashboard(prefix, '60s', '60s');
    const [code, signal] = await dash.stop('SIGINT');
    expect([code, signal], dash.output.err).toEqual([0, null]);
    expect(dash.output.err).toBe('');
  });
});
