export { Governed } from './governed.ts';
export { InjectMesh, InjectMeshClient } from './inject.ts';
export { listenMesh } from './listen-mesh.ts';
export { MeshExceptionFilter } from './mesh-exception-filter.ts';
export { MeshModule, type MeshModuleAsyncOptions, type MeshModuleExtras } from './mesh-module.ts';
export { MeshShutdown } from './mesh-shutdown.ts';
export { MESH, MESH_OPTIONS, meshClientToken } from './tokens.ts';
