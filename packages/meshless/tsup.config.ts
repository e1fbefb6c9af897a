import { defineConfig } from 'tsup';
import { ownFile, packageBuild } from '../../tsup.base.ts';

export default defineConfig({
  // The Node.js version check is a file of its own that index.js imports first (see ownFile).
  // `contract` is the light entry `meshless/contract` (src/contract.ts): the CLI loads it, not the SDK.
  ...packageBuild({
    index: 'src/index.ts',
    contract: 'src/contract.ts',
    'node-version-check': 'src/node-version-check.ts',
  }),
  esbuildPlugins: [ownFile('node-version-check')],
  dts: { entry: { index: 'src/index.ts', contract: 'src/contract.ts' } },
});
