// storefront: a small Nest app (ESM, current Nest) in the meshless demo shop, written the way a team
// with a Nest codebase writes one. It joins the mesh with MeshModule.forRootAsync (its port from
// ConfigService; Consul, the KV prefix and the headers to propagate from CONSUL_HTTP_ADDR and
// MESHLESS_* with no code), calls catalog with the plain global `fetch('http://catalog/...')`
// (governed because of setGlobalDispatcher(mesh.dispatcher()), no mesh.client at the call site),
// wraps that in a @Governed method with a timeout, and answers meshless errors with
// MeshExceptionFilter. SIGTERM: Nest's shutdown hooks drain, deregister, then close the mesh.
//
// Run it alone from the repository root (Node 24 is node_modules/.bin/node; `npm run build` first),
// with a Consul agent on 127.0.0.1:8500 and a catalog instance to call:
//   CATALOG_VERSION=v2 node_modules/.bin/node examples/shop/catalog.ts &
//   npx tsc -p examples/nest-storefront/tsconfig.json --outDir node_modules/.cache/meshless-demo/nest
//   PORT=3000 MESHLESS_PROPAGATE_HEADERS=x-user-group \
//     node_modules/.bin/node node_modules/.cache/meshless-demo/nest/app.js
//   curl -H 'x-user-group: beta' localhost:3000/products/1
// A header route on catalog (KV meshless/services/catalog/routes) sees x-user-group there. It is
// compiled under node_modules so that it resolves Nest and meshless from the workspace;
// `npm run demo` does all of this in chapter 8.
import 'reflect-metadata';
import { Governed, MESH, MeshExceptionFilter, MeshModule } from '@meshless/nestjs';
import { Controller, Get, Injectable, Module, Param, Query } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import type { Mesh } from 'meshless';
// The npm undici package: its setGlobalDispatcher also reaches Node's built-in fetch.
import { setGlobalDispatcher } from 'undici';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Product {
  id: string;
  item: unknown;
  /** The catalog instance and version that answered (so the demo can show routes and retries). */
  catalog: { instance?: string; version?: string; status: number };
}

@Injectable()
export class Products {
  // The code value; a rule at <prefix>/resources/storefront.product overrides it live.
  @Governed('storefront.product', { timeoutMs: 1000 })
  async product(id: string, delayMs: number): Promise<Product> {
    if (delayMs > 0) await sleep(delayMs); // a demo knob: time spent before asking catalog
    // Plain fetch: routes, balancer, retries and the propagated headers come from the dispatcher.
    const res = await fetch(`http://catalog/items/${encodeURIComponent(id)}`);
    const body = (await res.json()) as { item?: unknown; instance?: string; version?: string };
    return {
      id,
      item: body.item ?? null,
      catalog: { instance: body.instance, version: body.version, status: res.status },
    };
  }
}

@Controller()
export class ProductsController {
  constructor(private readonly products: Products) {}

  @Get('products/:id')
  product(@Param('id') id: string, @Query('delay') delay?: string): Promise<Product> {
    return this.products.product(id, Math.min(Number(delay) || 0, 5000));
  }
}

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    MeshModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      // Only what the environment does not already say: meshless reads CONSUL_HTTP_ADDR and
      // MESHLESS_* (prefix, version, propagate headers...) itself, code values winning.
      useFactory: (config: ConfigService) => ({
        cacheDir: false,
        logger: 'silent',
        service: {
          name: 'storefront',
          port: Number(config.getOrThrow<string>('PORT')),
          address: '127.0.0.1',
          drainMs: Number(config.get<string>('STOREFRONT_DRAIN_MS') ?? 300),
        },
      }),
    }),
  ],
  controllers: [ProductsController],
  providers: [Products, { provide: APP_FILTER, useClass: MeshExceptionFilter }],
})
export class AppModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  const mesh = app.get<Mesh>(MESH);
  // Inbound rules, the health/readiness/liveness paths, and the headers that travel (Express).
  app.use(mesh.middleware());
  // Every fetch of the process: service hosts governed, any other host passed through untouched.
  setGlobalDispatcher(mesh.dispatcher());
  app.enableShutdownHooks();
  const port = Number(app.get(ConfigService).getOrThrow<string>('PORT'));
  await app.listen(port, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ event: 'ready', port, id: mesh.serviceId })}\n`);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
