import type { Disposable } from '../disposable.ts';
import type { Endpoint, Resolver } from '../endpoint.ts';
import { Emitter } from '../event.ts';

/** A resolver whose endpoints the test sets. Changes are delivered on a microtask, as real ones are async. */
export class FakeResolver implements Resolver {
  private endpoints: readonly Endpoint[];
  private readonly emitter = new Emitter<readonly Endpoint[]>();

  constructor(endpoints: readonly Endpoint[] = []) {
    this.endpoints = endpoints;
  }

  current(): readonly Endpoint[] {
    return this.endpoints;
  }

  onDidChange(listener: (endpoints: readonly Endpoint[]) => void): Disposable {
    return this.emitter.event(listener);
  }

  ready(): Promise<readonly Endpoint[]> {
    return Promise.resolve(this.endpoints);
  }

  set(endpoints: readonly Endpoint[]): Promise<void> {
    this.endpoints = endpoints;
    return Promise.resolve().then(() => this.emitter.fire(endpoints));
  }
}

/** Builds a test endpoint with sensible defaults. */
export function endpoint(id: string, fields: Partial<Omit<Endpoint, 'id'>> = {}): Endpoint {
  return {
    id,
    service: fields.service ?? 'svc',
    address: fields.address ?? '127.0.0.1',
    port: fields.port ?? 8000,
    tags: fields.tags ?? [],
    meta: fields.meta ?? {},
    weight: fields.weight ?? 1,
    ...(fields.zone === undefined ? {} : { zone: fields.zone }),
    ...(fields.region === undefined ? {} : { region: fields.region }),
    ...(fields.datacenter === undefined ? {} : { datacenter: fields.datacenter }),
  };
}
