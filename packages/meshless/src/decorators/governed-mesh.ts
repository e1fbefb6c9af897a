import { ConfigError } from '@meshless/core';
import type { Governor } from '../governance/governor.ts';

/** What `governed(name)` binds to: a Mesh, or anything else with a Governor. */
export interface GovernedMesh {
  readonly governor: Governor;
}

let bound: GovernedMesh | undefined;

/**
 * Makes `mesh` the one that `governed(name, options)` (and `@Governed` of @meshless/nestjs) binds
 * to. createMesh does this for the first mesh of the process; call it to pick another one (several
 * meshes in one process), `undefined` to unbind. Applies to decorated methods not called yet: a
 * method binds once, on its first call.
 */
export function setGovernedMesh(mesh: GovernedMesh | undefined): void {
  bound = mesh;
}

/** The mesh governed methods bind to, if any. */
export function governedMesh(): GovernedMesh | undefined {
  return bound;
}

/** createMesh: the first mesh of the process is the one decorators bind to (first created wins). */
export function bindGovernedMeshIfUnset(mesh: GovernedMesh): void {
  bound ??= mesh;
}

/** mesh.close(): a closed mesh no longer takes new bindings. */
export function releaseGovernedMesh(mesh: GovernedMesh): void {
  if (bound === mesh) bound = undefined;
}

/** The bound mesh's Governor, for a method's first call; throws (the call rejects) when there is none yet. */
export function boundGovernor(resource: string): Governor {
  if (bound === undefined) {
    throw new ConfigError(
      `governed('${resource}'): no mesh to bind to yet: call createMesh() (or setGovernedMesh(mesh)) before the first call`,
      { path: resource },
    );
  }
  return bound.governor;
}
