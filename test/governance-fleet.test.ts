import { run } from '@meshless/cli';
import { parseStatusEntry } from '@meshless/consul';
import { createMesh, type Mesh, parseGovernanceReport } from 'meshless';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

interface HealthEntry {
  Service: { ID: string };
  Checks: { CheckID: string; Status: string; Output: string }[];
}

async function cli(args: string[]) {
  let stdout = '';
  const code = await run([...args, '--consul', consulAddress()], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    env: {},
  });
  return { code, stdout };
}

describe('one operator typo on a fleet', () => {
  it('keeps every instance of every service in ?passing, reports the key only where it applies, and shows it beside the key in KV', async () => {
    const prefix = uniquePrefix('fleet');
    const tag = prefix.slice(-8);
    const orders = `orders-${tag}`;
    const catalog = `catalog-${tag}`;
    const gateway = `gateway-${tag}`;
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    const start = async (service: string, id: string, port: number): Promise<Mesh> => {
      const mesh = await createMesh({
        consul: { address: consulAddress() },
        prefix,
        cacheDir: false,
        logger: 'silent',
        service: { name: service, id, port, address: '127.0.0.1', drainMs: 0 },
      });
      cleanup(() => mesh.close());
      return mesh;
    };
    const fleet = [
      await start(orders, `${orders}-a`, 9301),
      await start(orders, `${orders}-b`, 9302),
      await start(catalog, `${catalog}-a`, 9303),
    ];
    const gw = await start(gateway, `${gateway}-a`, 9304);
    gw.client(orders);
    gw.client(catalog);
    await kv.put(`${prefix}/services/${catalog}/policies`, { timeoutMs: 500 });

    const key = `${prefix}/services/${orders}/inbound`;
    await kv.put(key, { rateLimit: { perSecond: 100, brust: 200 } });
    const rejectedIndex = (await kv.get(key))!.modifyIndex;
    const passing = async (service: string) =>
      (
        await connection.json<HealthEntry[]>({
          path: `/v1/health/service/${service}`,
          query: { passing: true },
        })
      ).length;
    const output = async (service: string, id: string) => {
      const entries = await connection.json<HealthEntry[]>({ path: `/v1/health/service/${service}` });
      const entry = entries.find((e) => e.Service.ID === id)!;
      return entry.Checks.find((c) => c.CheckID === `meshless-governance:${id}`)!;
    };

    // Within a second, the operator sees it beside the key (the Consul UI's key/value browser).
    const saved = Date.now();
    const statusKey = `${prefix}/_status/services/${orders}/inbound`;
    let entryText = '';
    await eventually(
      async () => {
        const e = await kv.get(statusKey);
        entryText = e ? Buffer.from(e.value ?? '').toString('utf8') : '';
        return entryText.includes('REJECTED');
      },
      3000,
      'the status entry beside the key',
    );
    expect(Date.now() - saved).toBeLessThan(1000);
    expect(entryText.split('\n')[0]).toBe(
      `REJECTED: version ${rejectedIndex} of ${key} is not applied; the defaults apply.`,
    );
    expect(entryText).toContain('rateLimit: unknown field "brust" (did you mean "burst"?)');
    expect(parseStatusEntry(Buffer.from(entryText))).toMatchObject({ key, index: rejectedIndex });

    // The instances it affects say so in their check output, and stay passing.
    await eventually(
      async () => (await output(orders, `${orders}-a`)).Output.includes('REJECTED'),
      3000,
      'orders reports the rejection',
    );
    const ordersCheck = await output(orders, `${orders}-b`);
    expect(ordersCheck.Status).toBe('passing');
    expect(ordersCheck.Output).toMatch(/did you mean "burst"/);
    // Nobody else reports a key that is none of their business; nobody leaves ?passing.
    await eventually(
      async () =>
        parseGovernanceReport((await output(gateway, `${gateway}-a`)).Output)?.uses?.calls.length === 2,
      3000,
      'the gateway to report what it calls',
    );
    for (const [service, id] of [
      [catalog, `${catalog}-a`],
      [gateway, `${gateway}-a`],
    ] as const) {
      const check = await output(service, id);
      expect(check.Status).toBe('passing');
      expect(check.Output).not.toContain(key);
    }
    expect(await passing(orders)).toBe(2);
    expect(await passing(catalog)).toBe(1);
    expect(await passing(gateway)).toBe(1);
    for (const mesh of fleet) expect(mesh.status().rules.keys.some((k) => k.state === 'rejected')).toBe(true);

    // `meshless status` shows the rejection on the orders instances, and catalog's policies on
    // the gateway that calls catalog.
    const status = await cli(['status', orders, '--prefix', prefix]);
    expect(status.stdout).toMatch(new RegExp(`${orders}-a .*services/${orders}/inbound .*REJECTED`));
    const catalogStatus = JSON.parse((await cli(['status', catalog, '--prefix', prefix, '--json'])).stdout);
    const gatewayRow = catalogStatus.instances.find((i: { id: string }) => i.id === `${gateway}-a`);
    expect(gatewayRow.keys.map((k: { key: string; state: string }) => `${k.key}:${k.state}`)).toEqual([
      `${prefix}/services/${catalog}/policies:SYNCED`,
    ]);

    // Fixed: the entry goes away and the report is clean.
    await kv.put(key, { rateLimit: { perSecond: 100, burst: 200 } });
    await eventually(async () => (await kv.get(statusKey)) === undefined, 3000, 'the status entry to go');
    await eventually(
      async () => !(await output(orders, `${orders}-a`)).Output.includes('REJECTED'),
      3000,
      'a clean report',
    );
  }, 30_000);
});
