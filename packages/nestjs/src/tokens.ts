// Provider tokens. Symbol.for and strings, not module-local symbols: the ESM and CommonJS builds
// of this package (both may load in one app) must name the same providers.

/** The Mesh made by MeshModule: `@Inject(MESH)` or `@InjectMesh()`. */
export const MESH: unique symbol = Symbol.for('meshless.nestjs.mesh') as never;

/** The MeshOptions MeshModule creates the mesh with (forRoot's value, forRootAsync's factory result). */
export const MESH_OPTIONS: unique symbol = Symbol.for('meshless.nestjs.meshOptions') as never;

/** The token of the governed client for `service`: what `@InjectMeshClient(service)` injects. */
export function meshClientToken(service: string): string {
  return `meshless.nestjs.client:${service}`;
}
