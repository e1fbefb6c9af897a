import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { Mesh } from 'meshless';
import { MESH } from './tokens.ts';

/**
 * `app.listen(port, host)` for zero trust: serves the Nest app (Express platform) through
 * `mesh.createServer`, so plain HTTP and mutual TLS share the port (Nest's own server speaks plain
 * only). Initializes the app first; the server replaces Nest's in the HTTP adapter, so
 * `app.close()` closes it (`app.getHttpServer()` still names Nest's own, never listening: use the
 * server returned). Add `mesh.middleware()` with `app.use` before: the inbound guard runs there.
 */
export async function listenMesh(app: INestApplication, port: number, host?: string): Promise<Server> {
  await app.init();
  const adapter = app.getHttpAdapter() as AbstractHttpAdapter;
  const instance: unknown = adapter.getInstance();
  if (typeof instance !== 'function') {
    // Fastify's instance is not a request listener: serverFactory in the FastifyAdapter does it.
    throw new TypeError(
      'listenMesh: the Express platform only (Fastify: serverFactory with mesh.createServer)',
    );
  }
  const mesh = app.get<Mesh>(MESH);
  const server = mesh.createServer(instance as Parameters<Mesh['createServer']>[0]);
  adapter.setHttpServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if (host === undefined) server.listen(port, listening);
    else server.listen(port, host, listening);
  });
  return server;
}
