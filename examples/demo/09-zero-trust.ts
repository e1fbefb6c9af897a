// Chapter 9: zero trust. catalog and storefront start with `zeroTrust: true`: each takes its SPIFFE
// certificate from the dev agent's Connect CA (catalog also registers Connect-native). storefront
// calls catalog over mutual TLS; catalog's handler sees who called, by certificate. A deny
// intention storefront -> catalog (added in the UI's Intentions tab, or through the HTTP API with
// --once) refuses the next call in catalog's process: 403 MESHLESS_INTENTION_DENIED. Deleting it
// lets storefront in again: the dev agent has ACLs off, so Consul's default decision is allow.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMesh, type Mesh } from 'meshless';
import { color, type DemoConsul, freePort, log } from './lib.ts';
import type { Shop } from './shop.ts';

type Intention = { ID: string; SourceName: string; DestinationName: string; Action: string };
const UI_WAIT_MS = 300_000;

export async function zeroTrust(
  shop: Shop,
  consul: DemoConsul,
  prefix: string,
  once: boolean,
): Promise<void> {
  log(color.bold('\n9. Zero trust: mutual TLS, identities from Consul’s CA, intentions enforced in-process'));
  // The shop's plain catalog instances make way for a Connect-native one (they come back at the end).
  const plain = [...shop.instances.keys()];
  await Promise.all(plain.map((i) => shop.instances.get(i)!.stop()));
  for (const i of plain) shop.instances.delete(i);
  const closers: (() => Promise<void>)[] = [];
  const common = { consul: { address: consul.address }, prefix, cacheDir: false, env: false } as const;
  // catalog's warnings (the denial, with the intention it matched) are shown; the rest is quiet.
  const warnings: [string, Record<string, unknown> | undefined][] = [];
  const quiet = () => {};
  const warn = (message: string, fields?: Record<string, unknown>) => void warnings.push([message, fields]);
  const logger = { debug: quiet, info: quiet, error: quiet, warn };
  try {
    const port = await freePort();
    const catalog = await createMesh({
      ...common,
      logger,
      service: { name: 'catalog', id: 'catalog-zt', port, address: '127.0.0.1', version: 'v1' },
      zeroTrust: true,
    });
    closers.unshift(() => catalog.close());
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ caller: req.meshless?.peer?.spiffeId ?? 'plain (no certificate)' }));
    };
    const server = catalog.createServer(catalog.serve(handler));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    closers.unshift(() => new Promise<void>((r) => server.close(() => r()).closeAllConnections()));
    const storefront = await createMesh({
      ...common,
      logger: 'silent',
      service: { name: 'storefront', port: 8080, register: false },
      zeroTrust: true,
    });
    closers.unshift(() => storefront.close());
    const zt = catalog.status().zeroTrust!;
    log(`   catalog: Connect-native on port ${port}, certificate ${color.cyan(zt.spiffeId ?? '?')}`);
    log(
      color.dim(
        `     valid before ${zt.certificateValidBefore}; intentions (${zt.intentions.source}) loaded, default ${zt.intentions.defaultAllow ? 'allow: ACLs are off' : 'deny'}`,
      ),
    );

    const first = await callUntil(storefront, 200, 15_000);
    log(
      `   storefront -> catalog over mutual TLS: HTTP ${first.status}; the handler saw ${color.green(first.caller)}`,
    );
    const viaGateway = await shop.gateway.client('catalog').fetch('/items/1');
    const seen = ((await viaGateway.json()) as { caller?: string }).caller;
    log(
      `   the gateway (no zero trust) dials plain: HTTP ${viaGateway.status}, the handler saw ${color.yellow(String(seen))}`,
    );
    log(
      color.dim(
        '     inbound.mtls is permissive by default: plain callers get in, counted in meshless_inbound_plaintext_requests_total',
      ),
    );

    let id: string;
    if (once) {
      id = await writeDeny(consul);
      log(
        `   (--once) wrote what the UI would: ${color.cyan('POST /v1/connect/intentions')} storefront -> catalog ${color.red('deny')}`,
      );
    } else {
      log(
        `   Now add an intention in the UI's Intentions tab: source ${color.bold('storefront')}, destination ${color.bold('catalog')}, ${color.red('deny')}:`,
      );
      log(`     ${color.cyan(`${consul.uiUrl}/dc1/intentions/create`)}`);
      log(
        color.dim(
          `     watching /v1/connect/intentions for it (up to ${UI_WAIT_MS / 60_000} minutes, then the demo writes it itself)`,
        ),
      );
      const found = await until(() => denyIntention(consul), UI_WAIT_MS);
      id = found?.ID ?? (await writeDeny(consul));
      log(
        found
          ? `   Consul has it: intention ${color.dim(id)}`
          : color.yellow('   none came: wrote it through POST /v1/connect/intentions'),
      );
    }
    const started = performance.now();
    const denied = await callUntil(storefront, 403, 5_000);
    log(
      `   the next call, ${(performance.now() - started).toFixed(0)} ms after Consul had it: HTTP ${color.red(String(denied.status))} ${denied.body}  ${color.dim(`x-meshless-shed: ${denied.shed}`)}`,
    );
    const [said, fields] = warnings.find(([m]) => m === 'call denied by intention') ?? [];
    if (said) log(color.dim(`     catalog's log: "${said}" intention ${JSON.stringify(fields?.intention)}`));

    await consul.connection.json({
      method: 'DELETE',
      path: `/v1/connect/intentions/${encodeURIComponent(id)}`,
    });
    const back = await callUntil(storefront, 200, 5_000);
    log(
      `   intention deleted: HTTP ${color.green(String(back.status))} again (no intention: the default, allow)`,
    );
  } finally {
    for (const close of closers) await close();
    for (const i of plain) await shop.start(i, i.startsWith('v2') ? 'v2' : 'v1');
  }
}

async function call(
  mesh: Mesh,
): Promise<{ status: number; body: string; caller: string; shed: string | null }> {
  const res = await mesh.client('catalog').fetch('/items/1');
  const body = await res.text();
  const caller = res.ok ? String((JSON.parse(body) as { caller?: string }).caller) : '';
  return { status: res.status, body, caller, shed: res.headers.get('x-meshless-shed') };
}

async function denyIntention(consul: DemoConsul): Promise<Intention | undefined> {
  const list = await consul.connection.json<Intention[] | null>({ path: '/v1/connect/intentions' });
  return list?.find(
    (i) => i.SourceName === 'storefront' && i.DestinationName === 'catalog' && i.Action === 'deny',
  );
}

/** What the UI's form writes. */
async function writeDeny(consul: DemoConsul): Promise<string> {
  const body = JSON.stringify({ SourceName: 'storefront', DestinationName: 'catalog', Action: 'deny' });
  return (
    await consul.connection.json<{ ID: string }>({ method: 'POST', path: '/v1/connect/intentions', body })
  ).ID;
}

/** Calls until one answers `status` (each call a new attempt: the intentions apply within ms). */
async function callUntil(mesh: Mesh, status: number, ms: number): Promise<Awaited<ReturnType<typeof call>>> {
  const end = performance.now() + ms;
  let last: unknown;
  while (performance.now() < end) {
    last = await call(mesh).catch((error: Error) => error.message);
    if ((last as { status?: number }).status === status) return last as Awaited<ReturnType<typeof call>>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`demo: no HTTP ${status} from catalog within ${ms} ms (last: ${JSON.stringify(last)})`);
}

/** The first defined answer of `get` within `ms`, else undefined. */
async function until<T>(get: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  for (const end = performance.now() + ms; performance.now() < end; ) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}
