import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshlessError, TracingSdkMissingError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { loadTracingSdk, TRACING_SDK_PACKAGES } from './load-tracing-sdk.ts';

/**
 * Loads packages as an app in `dir` would: real module resolution from a folder outside the
 * repository, whose node_modules holds only what the test puts there.
 */
function loaderIn(dir: string) {
  const requireFrom = createRequire(join(dir, 'app.js'));
  return async (specifier: string) => requireFrom(specifier) as unknown;
}

describe('loadTracingSdk', () => {
  it('names every SDK package that is not installed, in a typed error with the install command', async () => {
    const app = mkdtempSync(join(tmpdir(), 'meshless-no-sdk-'));
    const error = await loadTracingSdk(true, loaderIn(app)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TracingSdkMissingError);
    expect(MeshlessError.isInstance(error)).toBe(true);
    const missing = error as TracingSdkMissingError;
    expect(missing.code).toBe('MESHLESS_TRACING_SDK_MISSING');
    expect(missing.packages).toEqual([...TRACING_SDK_PACKAGES]);
    expect(missing.message).toContain(`npm install ${TRACING_SDK_PACKAGES.join(' ')}`);

    // Without the OTLP exporter (console, memory, your own), its package is not asked for.
    const noOtlp = (await loadTracingSdk(false, loaderIn(app)).catch(
      (e: unknown) => e,
    )) as TracingSdkMissingError;
    expect(noOtlp.packages).toEqual(TRACING_SDK_PACKAGES.slice(0, 3));
  });

  it('asks only for the packages that are missing', async () => {
    const app = mkdtempSync(join(tmpdir(), 'meshless-some-sdk-'));
    for (const name of ['@opentelemetry/sdk-node', '@opentelemetry/resources']) {
      const dir = join(app, 'node_modules', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', main: 'index.js' }));
      writeFileSync(join(dir, 'index.js'), 'module.exports = {};\n');
    }
    const error = (await loadTracingSdk(true, loaderIn(app)).catch(
      (e: unknown) => e,
    )) as TracingSdkMissingError;
    expect(error.packages).toEqual(['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http']);
  });

  it('throws the failure of a package that is installed but broken as it is', async () => {
    const app = mkdtempSync(join(tmpdir(), 'meshless-broken-sdk-'));
    for (const name of TRACING_SDK_PACKAGES) {
      const dir = join(app, 'node_modules', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', main: 'index.js' }));
      // One of them needs a dependency that is missing: that is not "install the SDK".
      writeFileSync(
        join(dir, 'index.js'),
        name === '@opentelemetry/sdk-node' ? "require('@opentelemetry/core');\n" : 'module.exports = {};\n',
      );
    }
    const error = await loadTracingSdk(true, loaderIn(app)).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(TracingSdkMissingError);
    expect((error as { code?: string }).code).toBe('MODULE_NOT_FOUND');
    expect((error as Error).message).toContain("'@opentelemetry/core'");
  });

  it('loads the SDK where it is installed', async () => {
    const sdk = await loadTracingSdk(true);
    expect(typeof sdk.sdkNode.NodeSDK).toBe('function');
    expect(typeof sdk.sdkTrace.BatchSpanProcessor).toBe('function');
    expect(typeof sdk.resources.resourceFromAttributes).toBe('function');
    expect(typeof sdk.otlpHttp?.OTLPTraceExporter).toBe('function');
  });
});
