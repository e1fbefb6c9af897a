import { ConsulError } from '@meshless/core';
import type { ConsulConnection } from './connection.ts';
import { statusError } from './connection.ts';

export interface KvValue {
  readonly key: string;
  readonly value: Buffer | null;
  readonly modifyIndex: number;
}

/** Plain reads and writes of Consul KV (for tools, tests and the demo; watching is ConsulRuleSource's job). */
export class ConsulKv {
  constructor(private readonly connection: ConsulConnection) {}

  async get(key: string): Promise<KvValue | undefined> {
    const res = await this.connection.request({ path: `/v1/kv/${encodeKey(key)}` });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw statusError({ path: key }, res);
    const [entry] = JSON.parse(res.body.toString('utf8')) as {
      Key: string;
      Value: string | null;
      ModifyIndex: number;
    }[];
    if (!entry) return undefined;
    return {
      key: entry.Key,
      value: entry.Value === null ? null : Buffer.from(entry.Value, 'base64'),
      modifyIndex: entry.ModifyIndex,
    };
  }

  /**
   * Writes a value (objects as pretty JSON). With `cas`, writes only if the key's ModifyIndex is
   * still `cas` (0: only if absent) and returns false when someone else wrote first.
   */
  async put(
    key: string,
    value: string | Uint8Array | object,
    options: { cas?: number } = {},
  ): Promise<boolean> {
    const body =
      typeof value === 'string' || value instanceof Uint8Array
        ? value
        : `${JSON.stringify(value, null, 2)}\n`;
    const res = await this.connection.request({
      method: 'PUT',
      path: `/v1/kv/${encodeKey(key)}`,
      query: options.cas === undefined ? {} : { cas: options.cas },
      body,
    });
    if (res.status === 413)
      throw new ConsulError(`${key}: value too large for Consul (512 KiB limit)`, {
        status: 413,
        retryable: false,
      });
    if (res.status !== 200) throw statusError({ method: 'PUT', path: key }, res);
    return res.body.toString('utf8').trim() === 'true';
  }

  async delete(key: string, options: { recurse?: boolean } = {}): Promise<void> {
    const res = await this.connection.request({
      method: 'DELETE',
      path: `/v1/kv/${encodeKey(key)}`,
      query: { recurse: options.recurse },
    });
    if (res.status !== 200) throw statusError({ method: 'DELETE', path: key }, res);
  }

  async keys(prefix: string): Promise<string[]> {
    const res = await this.connection.request({ path: `/v1/kv/${encodeKey(prefix)}`, query: { keys: true } });
    if (res.status === 404) return [];
    if (res.status !== 200) throw statusError({ path: prefix }, res);
    return JSON.parse(res.body.toString('utf8')) as string[];
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
