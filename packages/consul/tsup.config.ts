import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.ts';

// The discovery worker is a file of its own: HealthWorkerHost starts it by path.
export default defineConfig(
  packageBuild({
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'health-worker': 'src/health-worker.ts',
  }),
);
