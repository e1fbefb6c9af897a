import 'reflect-metadata';
import type { IncomingMessage, Server } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { listenMesh, MESH, MeshExceptionFilter, MeshModule } from '@meshless/nestjs';
import { Controller, Get, type INestApplication, Module, Req } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { createMesh, type Mesh, type MeshOptions } from 'meshless';
import { describe, expect, it } from 'vitest';
import { testNames, useConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { ztMeshOptions } from './helpers/zero-trust-services.ts';

// A Nest app (Express platform) with zero trust: MeshModule, mesh.middleware() with app.use, and
// listenMesh (plain and mutual TLS on one port); a controller reads the caller through @Req().
// In-process on a real Consul 1.8.7 (ACLs off: the default decision allows).

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: false });

// Nest's decorators applied as functions: this file needs no decorator transform.
class WhoController {
  whoami(req: IncomingMessage): { peer: unknown; caller: string | null } {
    return { peer: req.meshless?.peer ?? null, caller: req.meshless?.peer?.spiffeId ?? null };
  }
}
Controller()(WhoController);
Get('whoami')(
  WhoController.prototype,
  'whoami',
  Object.getOwnPropertyDescriptor(WhoController.prototype, 'whoami')!,
);
Req()(WhoController.prototype, 'whoami', 0);

function meshOptions(name: string, prefix: string, port: number, zeroTrust: boolean): MeshOptions {
  return ztMeshOptions(agent, name, prefix, port, zeroTrust);
}

async function startNest(name: string, prefix: string): Promise<{ app: INestApplication; server: Server }> {
  const port = await freePort();
  class AppModule {}
  Module({
    imports: [MeshModule.forRoot(meshOptions(name, prefix, port, true))],
    controllers: [WhoController],
    providers: [{ provide: APP_FILTER, useClass: MeshExceptionFilter }],
  })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  app.use(app.get<Mesh>(MESH).middleware());
  const server = await listenMesh(app, port, '127.0.0.1');
  cleanup(async () => {
    server.closeAllConnections();
    await app.close();
  });
  return { app, server };
}

async function callerMesh(name: string, prefix: string, zeroTrust: boolean): Promise<Mesh> {
  const mesh = await createMesh(meshOptions(name, prefix, await freePort(), zeroTrust));
  cleanup(() => mesh.close());
  return mesh;
}

const names = () => testNames('ztn', ['api', 'web', 'plain'] as const);

async function whoami(mesh: Mesh, service: string) {
  const res = await mesh.client(service).fetch('/whoami');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a Nest app served with listenMesh, zero trust on', () => {
  it('the controller sees the caller verified over mutual TLS through @Req(); app.close() closes the server', async () => {
    const n = names();
    const { app, server } = await startNest(n.api, n.prefix);
    expect(app.getHttpAdapter().getHttpServer()).toBe(server);
    const web = await callerMesh(n.web, n.prefix, true);
    await eventually(() => web.client(n.api).status().endpoints > 0, 5000, 'the Nest app discovered');
    const td = (await agent.roots()).trustDomain;
    expect(await whoami(web, n.api)).toEqual({
      status: 200,
      body: {
        caller: `spiffe://${td}/ns/default/dc/dc1/svc/${n.web}`,
        peer: {
          spiffeId: `spiffe://${td}/ns/default/dc/dc1/svc/${n.web}`,
          service: n.web,
          datacenter: 'dc1',
          trustDomain: td,
          namespace: 'default',
        },
      },
    });
    server.closeAllConnections();
    await app.close();
    expect(server.listening).toBe(false);
  }, 30_000);

  it('a deny intention is answered 403 MESHLESS_INTENTION_DENIED by the middleware, before the controller', async () => {
    const n = names();
    await startNest(n.api, n.prefix);
    const web = await callerMesh(n.web, n.prefix, true);
    await eventually(() => web.client(n.api).status().endpoints > 0, 5000, 'the Nest app discovered');
    expect((await whoami(web, n.api)).status).toBe(200);
    await agent.addIntention(n.web, n.api, 'deny');
    let last = { status: 0, body: {} as Record<string, unknown> };
    await eventually(
      async () => {
        last = await whoami(web, n.api);
        return last.status === 403;
      },
      2000,
      'the deny intention applied',
    );
    expect(last.body).toEqual({ error: 'intention_denied', code: 'MESHLESS_INTENTION_DENIED' });
  }, 30_000);

  it('a plain caller (zero trust off) is let in by permissive mode, and the controller sees no peer', async () => {
    const n = names();
    await startNest(n.api, n.prefix);
    const plain = await callerMesh(n.plain, n.prefix, false);
    await eventually(() => plain.client(n.api).status().endpoints > 0, 5000, 'the Nest app discovered');
    expect(await whoami(plain, n.api)).toEqual({ status: 200, body: { peer: null, caller: null } });
  }, 30_000);
});
