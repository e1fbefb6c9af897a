import { Inject } from '@nestjs/common';
import { MESH, meshClientToken } from './tokens.ts';

/** Services named by `@InjectMeshClient`, so MeshModule provides their clients without a list. */
const injectedClients = new Set<string>();

/** The services `@InjectMeshClient` named so far (MeshModule reads them when Nest scans it). */
export function injectedClientServices(): readonly string[] {
  return [...injectedClients];
}

/** Injects the Mesh of MeshModule: `constructor(@InjectMesh() mesh: Mesh)`. */
export function InjectMesh(): PropertyDecorator & ParameterDecorator {
  return Inject(MESH);
}

/**
 * Injects `mesh.client(service)`: `constructor(@InjectMeshClient('catalog') catalog: MeshClient)`.
 * MeshModule provides a client for every service named this way before Nest scans the modules
 * (classes imported by the app module are), and for the services in its `clients` option.
 */
export function InjectMeshClient(service: string): PropertyDecorator & ParameterDecorator {
  if (typeof service !== 'string' || service === '') {
    throw new TypeError('InjectMeshClient: service: expected a non-empty service name');
  }
  injectedClients.add(service);
  return Inject(meshClientToken(service));
}
