import type { TestProject } from 'vitest/node';
import { ConsulDevAgent } from '../../packages/consul/src/testing/dev-agent.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    consulAddress: string;
  }
}

/** One real Consul dev agent for the integration suite, on free ports; tests use unique KV prefixes. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const agent = await ConsulDevAgent.start();
  project.provide('consulAddress', agent.address);
  return async () => {
    await agent.stop();
  };
}
