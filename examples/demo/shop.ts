// The demo shop: catalog v1 (two instances) and v2 (one), each its own process registered in
// Consul, and a gateway (this process) calling them through mesh.client('catalog').
import { join } from 'node:path';
import { createMesh, type Mesh } from 'meshless';
import { color, type DemoConsul, type DemoProcess, log, startProcess } from './lib.ts';

export interface Shop {
  gateway: Mesh;
  instances: Map<string, DemoProcess & { port: number }>;
  start(instance: string, version: string): Promise<void>;
  kill(instance: string): void;
  mode(instance: string, query: string): Promise<void>;
  traffic(n: number, headers?: Record<string, string>, concurrency?: number): Promise<Traffic>;
  stop(): Promise<void>;
}

export interface Traffic {
  byInstance: Map<string, number>;
  byVersion: Map<string, number>;
  statuses: Map<number, number>;
  errors: Map<string, number>;
  ms: number;
}

export async function startShop(consul: DemoConsul, prefix: string, root: string): Promise<Shop> {
  const instances = new Map<string, DemoProcess & { port: number }>();
  const env = { CONSUL_HTTP_ADDR: consul.address, DEMO_PREFIX: prefix };
  const gateway = await createMesh({
    consul: { address: consul.address },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: 'gateway', port: 8080, register: false, zone: 'zone-a' },
  });
  const shop: Shop = {
    gateway,
    instances,
    async start(instance, version) {
      const p = startProcess(`catalog-${instance}`, join(root, 'examples/shop/catalog.ts'), {
        ...env,
        CATALOG_VERSION: version,
        CATALOG_INSTANCE: instance,
      });
      const ready = await p.next((m) => m.event === 'ready');
      instances.set(instance, Object.assign(p, { port: ready.port as number }));
    },
    kill(instance) {
      instances.get(instance)?.child.kill('SIGKILL');
      instances.delete(instance);
    },
    async mode(instance, query) {
      const p = instances.get(instance);
      if (p) await (await fetch(`http://127.0.0.1:${p.port}/_demo/mode?${query}`)).arrayBuffer();
    },
    async traffic(n, headers = {}, concurrency = 8) {
      const t: Traffic = {
        byInstance: new Map(),
        byVersion: new Map(),
        statuses: new Map(),
        errors: new Map(),
        ms: 0,
      };
      const client = gateway.client('catalog');
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            const i = next++;
            try {
              const res = await client.fetch(`/items/${(i % 3) + 1}`, { headers });
              bump(t.statuses, res.status);
              const body = (await res.json().catch(() => ({}))) as { instance?: string; version?: string };
              if (res.ok && body.instance) {
                bump(t.byInstance, body.instance);
                bump(t.byVersion, body.version ?? '?');
              }
            } catch (error) {
              bump(t.errors, (error as { code?: string }).code ?? (error as Error).name);
            }
          }
        }),
      );
      t.ms = performance.now() - started;
      return t;
    },
    async stop() {
      await gateway.close();
      await Promise.allSettled([...instances.values()].map((p) => p.stop()));
    },
  };
  return shop;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** `v1 ████████████████░░ 90%` */
export function bars(counts: Map<string, number>, total: number, width = 30): string[] {
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => {
      const share = total ? v / total : 0;
      const filled = Math.round(share * width);
      return `${k.padEnd(8)} ${color.cyan('█'.repeat(filled))}${color.dim('░'.repeat(width - filled))} ${(share * 100).toFixed(1).padStart(5)}%  (${v})`;
    });
}

export function summary(t: Traffic): string {
  const ok = t.statuses.get(200) ?? 0;
  const other = [...t.statuses].filter(([s]) => s !== 200).map(([s, c]) => `${c}x HTTP ${s}`);
  const errs = [...t.errors].map(([e, c]) => `${c}x ${e}`);
  const failed = [...other, ...errs];
  return `${ok} ok${failed.length ? `, ${color.red(failed.join(', '))}` : `, ${color.green('0 failed')}`} in ${t.ms.toFixed(0)} ms`;
}

export { log };
