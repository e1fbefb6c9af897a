import type { FactoryProvider, Provider, ValueProvider } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { InjectMeshClient } from './inject.ts';
import { MeshModule } from './mesh-module.ts';
import { MeshShutdown } from './mesh-shutdown.ts';
import { MESH, MESH_OPTIONS, meshClientToken } from './tokens.ts';

const tokens = (providers: Provider[] | undefined) =>
  (providers ?? []).map((p) => (typeof p === 'function' ? p : (p as { provide: unknown }).provide));

describe('MeshModule', () => {
  it('forRoot provides the options, the mesh, the shutdown hook and the named clients, globally', () => {
    const module = MeshModule.forRoot({ prefix: 'shop' }, { clients: ['pricing'] });
    expect(module.global).toBe(true);
    expect(module.module).toBe(MeshModule);
    expect(tokens(module.providers)).toEqual([MESH_OPTIONS, MESH, MeshShutdown, meshClientToken('pricing')]);
    expect((module.providers![0] as ValueProvider).useValue).toEqual({ prefix: 'shop' });
    expect(module.exports).toEqual([MESH, meshClientToken('pricing')]);
  });

  it('provides the client of a service named by @InjectMeshClient after forRoot was called, as Nest reads it on scan', () => {
    const module = MeshModule.forRoot({});
    InjectMeshClient('inventory-late');
    expect(tokens(module.providers)).toContain(meshClientToken('inventory-late'));
    const client = (module.providers as FactoryProvider[]).find(
      (p) => p.provide === meshClientToken('inventory-late'),
    )!;
    expect(client.inject).toEqual([MESH]);
    const made: string[] = [];
    client.useFactory({ client: (service: string) => made.push(service) });
    expect(made).toEqual(['inventory-late']);
  });

  it('forRootAsync takes the options from a factory with its imports and injections', async () => {
    const ConfigModule = class {};
    const module = MeshModule.forRootAsync({
      imports: [ConfigModule],
      inject: ['CONFIG'],
      useFactory: (config: { prefix: string }) => ({ prefix: config.prefix }),
    });
    expect(module.imports).toEqual([ConfigModule]);
    const options = module.providers![0] as FactoryProvider;
    expect(options).toMatchObject({ provide: MESH_OPTIONS, inject: ['CONFIG'] });
    expect(await options.useFactory({ prefix: 'shop' })).toEqual({ prefix: 'shop' });
  });

  it('InjectMeshClient wants a service name', () => {
    expect(() => InjectMeshClient('')).toThrow(TypeError);
  });
});
