import {
  type DynamicModule,
  type FactoryProvider,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { createMesh, type Mesh, type MeshOptions, setGovernedMesh } from 'meshless';
import { injectedClientServices } from './inject.ts';
import { MeshShutdown } from './mesh-shutdown.ts';
import { MESH, MESH_OPTIONS, meshClientToken } from './tokens.ts';

/** What MeshModule adds to the mesh's own options. */
export interface MeshModuleExtras {
  /** Services to provide clients for besides those named by `@InjectMeshClient` (e.g. from a class loaded later). */
  readonly clients?: readonly string[];
}

export interface MeshModuleAsyncOptions extends MeshModuleExtras {
  /** Modules whose providers the factory injects (e.g. ConfigModule). */
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Returns the options of createMesh, e.g. from ConfigService. */
  readonly useFactory: (...args: never[]) => MeshOptions | Promise<MeshOptions>;
}

/**
 * The mesh as a global Nest module: `MeshModule.forRoot(options)` or
 * `MeshModule.forRootAsync({ imports, inject, useFactory })`. Provides the Mesh (`@InjectMesh()`),
 * the clients of `@InjectMeshClient(service)`, binds `@Governed` methods to this mesh, and closes
 * the mesh on Nest's shutdown.
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class; forRoot is Nest's convention.
export class MeshModule {
  static forRoot(options: MeshOptions = {}, extras: MeshModuleExtras = {}): DynamicModule {
    return meshModule({ provide: MESH_OPTIONS, useValue: options }, [], extras.clients);
  }

  static forRootAsync(options: MeshModuleAsyncOptions): DynamicModule {
    const { imports = [], inject = [], useFactory, clients } = options;
    const optionsProvider: FactoryProvider<MeshOptions | Promise<MeshOptions>> = {
      provide: MESH_OPTIONS,
      useFactory: useFactory as (...args: unknown[]) => MeshOptions | Promise<MeshOptions>,
      inject,
    };
    return meshModule(optionsProvider, imports, clients);
  }
}

const meshProvider: FactoryProvider<Promise<Mesh>> = {
  provide: MESH,
  useFactory: async (options: MeshOptions) => {
    const mesh = await createMesh(options);
    // @Governed methods not called yet bind to this module's mesh, whichever mesh came first.
    setGovernedMesh(mesh);
    return mesh;
  },
  inject: [MESH_OPTIONS],
};

function meshModule(
  optionsProvider: Provider,
  imports: NonNullable<ModuleMetadata['imports']>,
  clients: readonly string[] = [],
): DynamicModule {
  const services = () => [...new Set([...clients, ...injectedClientServices()])];
  return {
    module: MeshModule,
    global: true,
    imports,
    // Getters: Nest reads them when it scans the modules (NestFactory.create), after every
    // controller and service file was imported, so each @InjectMeshClient is known by then.
    get providers(): Provider[] {
      const clientProviders = services().map(
        (service): FactoryProvider => ({
          provide: meshClientToken(service),
          useFactory: (mesh: Mesh) => mesh.client(service),
          inject: [MESH],
        }),
      );
      return [optionsProvider, meshProvider, MeshShutdown, ...clientProviders];
    },
    get exports() {
      return [MESH, ...services().map(meshClientToken)];
    },
  };
}
