import { ConsulError } from '@meshless/core';
import type { ConsulConnection, ConsulRequest, ConsulResponse } from './connection.ts';
import { statusError } from './connection.ts';

export interface KvValue {
  readonly key: string;
  /** The stored bytes (empty when Consul holds no value). */
  readonly value: Buffer;
  readonly modifyIndex: number;
  /** Consul's opaque per-key number (the CLI's history keeps a version's save time in it). */
  readonly flags: number;
}

export interface ConsulKvOptions {
  /** Time limit of each request, ms (headers and body). Default: none, the connection's own. */
  readonly timeoutMs?: number;
}

interface RawEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
  Flags?: number;
}

/**
 * Plain reads and check-and-set writes of Consul KV, for the CLI, tools, tests and the demo
 * (watching is ConsulRuleSource's job). A status other than 200 (or 404 on a read) is a
 * ConsulError (MESHLESS_CONSUL) carrying `status`.
 */
export class ConsulKv {
  private readonly timeoutMs: number | undefined;

  constructor(
    private readonly connection: ConsulConnection,
    options: ConsulKvOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs;
  }

  async get(key: string): Promise<KvValue | undefined> {
    const res = await this.send({ path: kvPath(key) });
    if (res.status === 404) return undefined;
    return readEntries(res)[0];
  }

  /** Every entry under a folder (`prefix` should end with `/`), folder markers left out. */
  async list(prefix: string): Promise<KvValue[]> {
    const res = await this.send({ path: kvPath(prefix), query: { recurse: true } });
    if (res.status === 404) return [];
    return readEntries(res).filter((e) => !e.key.endsWith('/'));
  }

  /**
   * Writes a value (objects as pretty JSON). With `cas`, writes only if the key's ModifyIndex is
   * still `cas` (0: only if absent) and returns false when someone else wrote first.
   */
  async put(
    key: string,
    value: string | Uint8Array | object,
    options: { cas?: number; flags?: number } = {},
  ): Promise<boolean> {
    const body =
      typeof value === 'string' || value instanceof Uint8Array
        ? value
        : `${JSON.stringify(value, null, 2)}\n`;
    const res = await this.send(
      { method: 'PUT', path: kvPath(key), query: { cas: options.cas, flags: options.flags }, body },
      key,
    );
    return res.body.toString('utf8').trim() === 'true';
  }

  async delete(key: string, options: { recurse?: boolean } = {}): Promise<void> {
    await this.send({ method: 'DELETE', path: kvPath(key), query: { recurse: options.recurse } });
  }

  async keys(prefix: string): Promise<string[]> {
    const res = await this.send({ path: kvPath(prefix), query: { keys: true } });
    if (res.status === 404) return [];
    return JSON.parse(res.body.toString('utf8')) as string[];
  }

  private async send(req: ConsulRequest, key?: string): Promise<ConsulResponse> {
    const res = await this.connection.request(
      this.timeoutMs === undefined ? req : { ...req, timeoutMs: this.timeoutMs },
    );
    if (res.status === 200 || (res.status === 404 && (req.method ?? 'GET') === 'GET')) return res;
    if (res.status === 413)
      throw new ConsulError(`${key ?? req.path}: value too large for Consul (512 KiB limit)`, {
        status: 413,
        retryable: false,
      });
    throw statusError(req, res);
  }
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function readEntries(res: ConsulResponse): KvValue[] {
  const raw = JSON.parse(res.body.toString('utf8')) as RawEntry[];
  return raw.map((e) => ({
    key: e.Key,
    value: e.Value === null ? Buffer.alloc(0) : Buffer.from(e.Value, 'base64'),
    modifyIndex: e.ModifyIndex,
    flags: e.Flags ?? 0,
  }));
}
