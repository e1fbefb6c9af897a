// The Consul test helpers that need no vitest: chaos/ imports them under plain Node (type
// stripping); test/helpers/consul.ts re-exports them beside the shared agent's address.
import { randomUUID } from 'node:crypto';
import type { ConsulKv } from '@meshless/consul';
import type { Mesh } from 'meshless';

/** A fresh KV prefix per test so tests never see each other's rules. */
export function uniquePrefix(name = 't'): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
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

/** True once `mesh` has the document of `key` at `modifyIndex` in force. */
export function hasApplied(mesh: Mesh, key: string, modifyIndex: number): boolean {
  return mesh.status().rules.keys.some((k) => key.endsWith(k.key) && k.appliedIndex === modifyIndex);
}

/** Writes a rule document and waits until `mesh` has it in force (its ModifyIndex applied). */
export async function putApplied(kv: ConsulKv, mesh: Mesh, key: string, doc: object): Promise<void> {
  await kv.put(key, doc);
  const { modifyIndex } = (await kv.get(key))!;
  await eventually(() => hasApplied(mesh, key, modifyIndex), 5000, `${key} applied`);
}
