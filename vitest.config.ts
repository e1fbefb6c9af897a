import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests import packages by name; point those names at the sources so a test run never
// depends on a stale dist/ (the build is still checked by `npm test`).
const alias = [
  { find: /^@meshless\/core\/testing$/, replacement: `${root}packages/core/src/testing/index.ts` },
  { find: /^@meshless\/consul\/testing$/, replacement: `${root}packages/consul/src/testing/index.ts` },
  { find: /^@meshless\/breaker\/rule$/, replacement: `${root}packages/breaker/src/rule.ts` },
  { find: /^@meshless\/retry\/rule$/, replacement: `${root}packages/retry/src/rule.ts` },
  { find: /^meshless\/contract$/, replacement: `${root}packages/meshless/src/contract.ts` },
  ...readdirSync(`${root}packages`).map((dir) => ({
    find: new RegExp(`^${dir === 'meshless' ? 'meshless' : `@meshless/${dir}`}$`),
    replacement: `${root}packages/${dir}/src/index.ts`,
  })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], environment: 'node' },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/consul-global.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          // The machine has two cores; Consul agents and servers compete with the tests.
          maxWorkers: 2,
        },
      },
    ],
  },
});
