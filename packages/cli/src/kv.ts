import type { ConsulConnection, ConsulRequest, ConsulResponse } from '@meshless/consul';
import { ConsulError } from '@meshless/core';

/** Consul answers on loopback in milliseconds; a CLI should not hang on a black-holed address. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface KvEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly modifyIndex: number;
  /** Consul's opaque per-key number; history versions keep their save time (epoch ms) in it. */
  readonly flags: number;
}

interface RawEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
  Flags?: number;
}

/**
 * KV reads and CAS writes for the CLI. Unlike @meshless/consul's ConsulKv it carries `flags`
 * and puts a timeout on every request.
 */
export class RuleKv {
  private readonly connection: ConsulConnection;

  constructor(connection: ConsulConnection) {
    this.connection = connection;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const res = await this.send({ path: kvPath(key) });
    if (res.status === 404) return undefined;
    return readEntries(res)[0];
  }

  /** Every entry under a folder (`prefix` should end with `/`). */
  async list(prefix: string): Promise<KvEntry[]> {
    const res = await this.send({ path: kvPath(prefix), query: { recurse: true } });
    if (res.status === 404) return [];
    return readEntries(res).filter((e) => !e.key.endsWith('/'));
  }

  /** Writes `value`; with `cas`, only if the key's ModifyIndex is still `cas` (0: only if absent). */
  async put(
    key: string,
    value: Uint8Array,
    options: { cas?: number; flags?: number } = {},
  ): Promise<boolean> {
    const res = await this.send({
      method: 'PUT',
      path: kvPath(key),
      query: { cas: options.cas, flags: options.flags },
      body: value,
    });
    return res.body.toString('utf8').trim() === 'true';
  }

  async delete(key: string): Promise<void> {
    await this.send({ method: 'DELETE', path: kvPath(key) });
  }

  private async send(req: ConsulRequest): Promise<ConsulResponse> {
    const res = await this.connection.request({ ...req, timeoutMs: REQUEST_TIMEOUT_MS });
    if (res.status === 200 || (res.status === 404 && (req.method ?? 'GET') === 'GET')) return res;
    const text = res.body.toString('utf8').trim().slice(0, 300);
    throw new ConsulError(`${req.method ?? 'GET'} ${req.path}: HTTP ${res.status}${text ? ` ${text}` : ''}`, {
      status: res.status,
    });
  }
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function readEntries(res: ConsulResponse): KvEntry[] {
  const raw = JSON.parse(res.body.toString('utf8')) as RawEntry[];
  return raw.map((e) => ({
    key: e.Key,
    value: e.Value === null ? Buffer.alloc(0) : Buffer.from(e.Value, 'base64'),
    modifyIndex: e.ModifyIndex,
    flags: e.Flags ?? 0,
  }));
}
