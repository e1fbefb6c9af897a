import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.ts';

// The background hash-table builder is a file of its own: hash-build-host starts it by path.
export default defineConfig(
  packageBuild({ index: 'src/index.ts', 'hash-build-worker': 'src/hash-build-worker.ts' }),
);
