import { ConsulConnection } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { ConfigError } from 'meshless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

// Two real datacenters, WAN-joined on loopback: `east` (where the gateway's agent runs) and `west`.
let east: ConsulDevAgent;
let west: ConsulDevAgent;
beforeAll(async () => {
  east = await ConsulDevAgent.start({ args: ['-datacenter=east'] });
  west = await ConsulDevAgent.start({
    args: ['-datacenter=west', `-join-wan=127.0.0.1:${east.ports.serfWan}`],
  });
  const connection = new ConsulConnection({ address: east.address });
  try {
    await eventually(
      async () => {
        const dcs = await connection.json<string[]>({ path: '/v1/catalog/datacenters' });
        return dcs.includes('west');
      },
      20_000,
      'east sees west over the WAN',
    );
  } finally {
    await connection.close();
  }
}, 60_000);
afterAll(async () => {
  await west?.stop();
  await east?.stop();
});

describe('datacenter failover on two real Consul datacenters', () => {
  it('calls the first datacenter with a healthy instance, and moves as instances come and go', async () => {
    const prefix = uniquePrefix('dc');
    const service = `inventory-${prefix.slice(-8)}`;
    const inWest = await startBackend(service, 'v1', 'w', { prefix, consul: { address: west.address } });
    cleanup(() => inWest.stop());
    const gateway = await startGateway(prefix, {
      consul: { address: east.address },
      datacenters: ['east', 'west'],
    });
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    const servedBy = async () =>
      ((await (await client.fetch('/stock')).json()) as { instance: string }).instance;

    // Nothing in east: the call crosses to west.
    await eventually(() => client.status().endpoints === 1, 10_000, 'west instance discovered');
    expect(client.status().datacenter).toBe('west');
    expect(await servedBy()).toBe('w');

    // An instance appears in east: calls come home.
    const inEast = await startBackend(service, 'v1', 'e', { prefix, consul: { address: east.address } });
    cleanup(() => inEast.stop());
    await eventually(() => client.status().datacenter === 'east', 10_000, 'back to east');
    for (let i = 0; i < 10; i++) expect(await servedBy()).toBe('e');

    // It leaves: calls fail over to west again, without a failed call once discovery has moved.
    await inEast.stop();
    await eventually(() => client.status().datacenter === 'west', 10_000, 'over to west again');
    for (let i = 0; i < 10; i++) expect(await servedBy()).toBe('w');
  });

  it('treats a datacenter Consul has no path to as empty, and keeps one failover order per client', async () => {
    const prefix = uniquePrefix('dcx');
    const service = `ledger-${prefix.slice(-8)}`;
    const inWest = await startBackend(service, 'v1', 'w', { prefix, consul: { address: west.address } });
    cleanup(() => inWest.stop());
    const gateway = await startGateway(prefix, { consul: { address: east.address } });
    cleanup(() => gateway.close());
    const client = gateway.client(service, { datacenters: ['nowhere', 'west'] });
    await eventually(() => client.status().endpoints === 1, 10_000, 'west instance discovered');
    expect(await (await client.fetch('/')).json()).toMatchObject({ instance: 'w' });
    expect(gateway.client(service)).toBe(client);
    expect(() => gateway.client(service, { datacenters: ['west'] })).toThrow(ConfigError);
    expect(() => gateway.client('other', { datacenters: [''] })).toThrow('datacenters[0]');
  });
});
