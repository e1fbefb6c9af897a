import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { Mesh } from 'meshless';
import { MESH } from './tokens.ts';

/**
 * Closes the mesh when Nest shuts down (`app.close()`, or a signal with `enableShutdownHooks()`):
 * drain, deregister, close, awaited before Nest closes the HTTP server and exits. Before-shutdown
 * rather than on-shutdown so the requests still in flight are answered while the mesh drains.
 */
@Injectable()
export class MeshShutdown implements BeforeApplicationShutdown {
  readonly #mesh: Mesh;

  constructor(@Inject(MESH) mesh: Mesh) {
    this.#mesh = mesh;
  }

  async beforeApplicationShutdown(): Promise<void> {
    try {
      await this.#mesh.close();
    } catch (error) {
      // Shutdown goes on: a failed close must not keep Nest from exiting.
      new Logger('MeshModule').error(`mesh.close() failed: ${String(error)}`);
    }
  }
}
