// Finding instances that serve golden signals (the catalog) and reading each one's answer. Both
// sides are untrusted: the catalog's meta and address are anyone's who may register, the answer
// is another process's. Every read is bounded in time and size and checked before use.

import type { ConsulConnection } from '@meshless/consul';
import { parseSignalsAnswer, SIGNALS_META, type SignalsAnswer } from 'meshless/contract';
import type { SignalsTls } from './signals-tls.ts';

/** An instance that advertises its signals (registration meta `meshless-signals`). */
export interface SignalsInstance {
  readonly service: string;
  readonly id: string;
  readonly version: string;
  readonly url: string;
  /** Connect-native (`Service.Connect.Native`): it is read over mutual TLS, with the reader's identity. */
  readonly mtls: boolean;
}

/** One instance's answer, or why there is none. */
export type ScrapeResult =
  | { readonly instance: SignalsInstance; readonly answer: SignalsAnswer; readonly error?: undefined }
  | { readonly instance: SignalsInstance; readonly answer?: undefined; readonly error: string };

export interface ScrapeLimits {
  /** Per request, headers and body. Default 1000 ms. */
  readonly timeoutMs: number;
  /** Largest answer read. Default 1 MiB. */
  readonly maxBytes: number;
  /** Requests in flight at once. Default 16. */
  readonly concurrency: number;
}

export const DEFAULT_SCRAPE_LIMITS: ScrapeLimits = { timeoutMs: 1000, maxBytes: 1 << 20, concurrency: 16 };

const MAX_SERVICES = 1000;
const MAX_INSTANCES = 10_000;
const SAFE_PATH = /^\/[A-Za-z0-9._~/-]{0,200}$/;
const CONSUL_TIMEOUT_MS = 10_000;

interface HealthEntry {
  Node?: { Address?: unknown };
  Service?: {
    ID?: unknown;
    Service?: unknown;
    Address?: unknown;
    Port?: unknown;
    Meta?: unknown;
    Connect?: { Native?: unknown } | null;
  };
}

/** Every service in the catalog (at most 1000 names). */
export async function catalogServices(connection: ConsulConnection): Promise<string[]> {
  const body = await connection.json<Record<string, unknown>>({
    path: '/v1/catalog/services',
    timeoutMs: CONSUL_TIMEOUT_MS,
  });
  return Object.keys(body ?? {})
    .filter((s) => s !== 'consul')
    .slice(0, MAX_SERVICES);
}

/** The instances of `service` that advertise signals, with the URL to read them at. */
export async function signalsInstances(
  connection: ConsulConnection,
  service: string,
): Promise<SignalsInstance[]> {
  const entries = await connection.json<HealthEntry[]>({
    path: `/v1/health/service/${encodeURIComponent(service)}`,
    timeoutMs: CONSUL_TIMEOUT_MS,
  });
  const out: SignalsInstance[] = [];
  for (const e of Array.isArray(entries) ? entries.slice(0, MAX_INSTANCES) : []) {
    const s = e?.Service;
    const meta = (typeof s?.Meta === 'object' && s.Meta !== null ? s.Meta : {}) as Record<string, unknown>;
    const path = meta[SIGNALS_META];
    const port = s?.Port;
    const address = typeof s?.Address === 'string' && s.Address !== '' ? s.Address : e.Node?.Address;
    if (typeof path !== 'string' || !SAFE_PATH.test(path)) continue;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    if (typeof address !== 'string' || !/^[A-Za-z0-9.:_-]{1,253}$/.test(address)) continue;
    const host = address.includes(':') ? `[${address}]` : address;
    // A zero-trust instance registers Connect-native: it may take only mutual TLS (strict), and
    // in any mode its intentions decide who reads its signals.
    const mtls = s?.Connect?.Native === true;
    out.push({
      service,
      id: typeof s?.ID === 'string' ? s.ID : `${address}:${port}`,
      version: typeof meta.version === 'string' ? meta.version : '',
      url: `${mtls ? 'https' : 'http'}://${host}:${port}${path}`,
      mtls,
    });
  }
  return out;
}

/** Reads one instance's signals: 200, JSON, within the limits, the right shape. */
export async function scrapeInstance(
  instance: SignalsInstance,
  limits: ScrapeLimits,
  tls?: SignalsTls,
): Promise<ScrapeResult> {
  try {
    let answer: { status: number; text: string | undefined };
    if (instance.mtls) {
      if (!tls) return { instance, error: 'Connect-native: needs mutual TLS (no identity given)' };
      answer = await tls.get(instance.url, instance.service, limits.timeoutMs, limits.maxBytes);
    } else answer = await plainGet(instance.url, limits);
    const { status, text } = answer;
    if (status !== 200) return { instance, error: refusedText(status, text, instance, tls) };
    if (text === undefined) return { instance, error: `answer is over ${limits.maxBytes} bytes` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { instance, error: 'answer is not JSON' };
    }
    const parsed = parseSignalsAnswer(json);
    return typeof parsed === 'string'
      ? { instance, error: `bad answer: ${parsed}` }
      : { instance, answer: parsed };
  } catch (error) {
    const e = error as Error;
    return {
      instance,
      error: e?.name === 'TimeoutError' ? `no answer in ${limits.timeoutMs} ms` : String(e?.message ?? e),
    };
  }
}

async function plainGet(
  url: string,
  limits: ScrapeLimits,
): Promise<{ status: number; text: string | undefined }> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(limits.timeoutMs),
    redirect: 'error',
    headers: { accept: 'application/json' },
  });
  if (res.status !== 200) {
    // A refusal's body is short (a meshless error names its code); anything else is not read.
    const text = res.status === 403 || res.status === 503 ? await readCapped(res, 1024) : undefined;
    if (text === undefined) await res.body?.cancel().catch(() => {});
    return { status: res.status, text };
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > limits.maxBytes) {
    await res.body?.cancel().catch(() => {});
    return { status: 200, text: undefined };
  }
  return { status: 200, text: await readCapped(res, limits.maxBytes) };
}

/**
 * `HTTP <status>`, plus the meshless error code when the instance refused (a denied intention
 * says which one the operator adds). The code is the instance's text: shown only if it looks
 * like a code, never echoed otherwise.
 */
function refusedText(
  status: number,
  text: string | undefined,
  instance: SignalsInstance,
  tls: SignalsTls | undefined,
): string {
  let code: unknown;
  try {
    code =
      text !== undefined && text.length <= 1024 ? (JSON.parse(text) as { code?: unknown })?.code : undefined;
  } catch {
    code = undefined;
  }
  if (typeof code !== 'string' || !/^MESHLESS_[A-Z_]{1,60}$/.test(code)) return `HTTP ${status}`;
  if (code === 'MESHLESS_INTENTION_DENIED' && tls)
    return `HTTP ${status} ${code}: no intention allows ${tls.identity} -> ${instance.service}`;
  return `HTTP ${status} ${code}`;
}

async function readCapped(res: Response, maxBytes: number): Promise<string | undefined> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads every instance, `concurrency` at a time (Connect-native ones over `tls`); never rejects. */
export async function scrapeAll(
  instances: readonly SignalsInstance[],
  limits: ScrapeLimits,
  tls?: SignalsTls,
): Promise<ScrapeResult[]> {
  const results = new Array<ScrapeResult>(instances.length);
  let next = 0;
  const worker = async () => {
    while (next < instances.length) {
      const i = next++;
      results[i] = await scrapeInstance(instances[i]!, limits, tls);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limits.concurrency, instances.length)) }, worker),
  );
  return results;
}
