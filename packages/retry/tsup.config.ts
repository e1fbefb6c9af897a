import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.ts';

// `rule` is the schema-only subpath `@meshless/retry/rule` (src/rule.ts): meshless/contract imports it.
export default defineConfig(packageBuild({ index: 'src/index.ts', rule: 'src/rule.ts' }));
