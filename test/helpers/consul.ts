import { randomUUID } from 'node:crypto';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import type { Mesh } from 'meshless';
import { inject } from 'vitest';

/** The shared dev agent started by the global setup. */
export function consulAddress(): string {
  return inject('consulAddress');
}

/** A fresh KV prefix per test so tests never see each other's rules. */
export function uniquePrefix(name = 't'): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

export function kvClient(address = consulAddress()): { kv: ConsulKv; connection: ConsulConnection } {
  const connection = new ConsulConnection({ address });
  return { kv: new ConsulKv(connection), connection };
}

/** Polls `check` (cheap, local) until it returns true; for state that arrives from another process. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Writes a rule document and waits until `mesh` has it in force (its ModifyIndex applied). */
export async function putApplied(kv: ConsulKv, mesh: Mesh, key: string, doc: object): Promise<void> {
  await kv.put(key, doc);
  const { modifyIndex } = (await kv.get(key))!;
  await eventually(
    () => mesh.status().rules.keys.some((k) => key.endsWith(k.key) && k.appliedIndex === modifyIndex),
    5000,
    `${key} applied`,
  );
}
