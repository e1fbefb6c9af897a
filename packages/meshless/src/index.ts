export type { ConsulOptions } from '@meshless/consul';
export * from '@meshless/core';
export { createMesh, type Mesh, type MeshOptions, type MeshStatus } from './mesh.ts';
export * from './rules/index.ts';
