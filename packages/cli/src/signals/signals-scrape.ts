// Finding instances that serve golden signals (the catalog) and reading each one's answer. Both
// sides are untrusted: the catalog's meta and address are anyone's who may register, the answer
// is another process's. Every read is bounded in time and size and checked before use.

import type { ConsulConnection } from '@meshless/consul';
import { parseSignalsAnswer, SIGNALS_META, type SignalsAnswer } from 'meshless/contract';

/** An instance that advertises its signals (registration meta `meshless-signals`). */
export interface SignalsInstance {
  readonly service: string;
  readonly id: string;
  readonly version: string;
  readonly url: string;
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
  Service?: { ID?: unknown; Service?: unknown; Address?: unknown; Port?: unknown; Meta?: unknown };
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
    out.push({
      service,
      id: typeof s?.ID === 'string' ? s.ID : `${address}:${port}`,
      version: typeof meta.version === 'string' ? meta.version : '',
      url: `http://${host}:${port}${path}`,
    });
  }
  return out;
}

/** Reads one instance's signals: 200, JSON, within the limits, the right shape. */
export async function scrapeInstance(instance: SignalsInstance, limits: ScrapeLimits): Promise<ScrapeResult> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const res = await fetch(instance.url, {
      signal,
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return { instance, error: `HTTP ${res.status}` };
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > limits.maxBytes) {
      await res.body?.cancel().catch(() => {});
      return { instance, error: `answer is over ${limits.maxBytes} bytes (${declared})` };
    }
    const text = await readCapped(res, limits.maxBytes);
    if (text === undefined) return { instance, error: `answer is over ${limits.maxBytes} bytes` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { instance, error: 'answer is not JSON' };
    }
    const answer = parseSignalsAnswer(json);
    return typeof answer === 'string' ? { instance, error: `bad answer: ${answer}` } : { instance, answer };
  } catch (error) {
    const e = error as Error;
    return {
      instance,
      error: e?.name === 'TimeoutError' ? `no answer in ${limits.timeoutMs} ms` : String(e?.message ?? e),
    };
  }
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

/** Reads every instance, `concurrency` at a time; never rejects. */
export async function scrapeAll(
  instances: readonly SignalsInstance[],
  limits: ScrapeLimits,
): Promise<ScrapeResult[]> {
  const results = new Array<ScrapeResult>(instances.length);
  let next = 0;
  const worker = async () => {
    while (next < instances.length) {
      const i = next++;
      results[i] = await scrapeInstance(instances[i]!, limits);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limits.concurrency, instances.length)) }, worker),
  );
  return results;
}
