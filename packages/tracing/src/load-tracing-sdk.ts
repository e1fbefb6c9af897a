import { TracingSdkMissingError } from '@meshless/core';
import type { OtlpHttpModule, ResourcesModule, SdkNodeModule, SdkTraceModule } from './otel.ts';

// The one file that loads the OpenTelemetry SDK. Its packages are optional peers, so an app that
// never traces neither installs (43 MB with the exporters' dependencies) nor loads them.

/** What startTracing() loads: the SDK, and the OTLP/HTTP exporter when it is the chosen one. */
export const TRACING_SDK_PACKAGES = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-trace-otlp-http',
] as const;

export interface TracingSdk {
  readonly sdkNode: SdkNodeModule;
  readonly sdkTrace: SdkTraceModule;
  readonly resources: ResourcesModule;
  /** Loaded only for the `otlp` exporter. */
  readonly otlpHttp: OtlpHttpModule | undefined;
}

/** Loads a package by name; `import()` from this file unless a test resolves from elsewhere. */
export type LoadModule = (specifier: string) => Promise<unknown>;

/**
 * Loads the SDK packages at once. When some are not installed, throws a TracingSdkMissingError
 * naming them; any other failure (a package present but broken) is thrown as it is.
 */
export async function loadTracingSdk(
  withOtlpExporter: boolean,
  load: LoadModule = (specifier) => import(specifier),
): Promise<TracingSdk> {
  const names = withOtlpExporter ? TRACING_SDK_PACKAGES : TRACING_SDK_PACKAGES.slice(0, 3);
  const results = await Promise.allSettled(names.map(async (name) => load(name)));
  const missing = names.filter((name, i) => {
    const result = results[i]!;
    return result.status === 'rejected' && isNotInstalled(result.reason, name);
  });
  if (missing.length > 0) throw new TracingSdkMissingError(missing);
  const modules = results.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
  return {
    sdkNode: modules[0] as TracingSdk['sdkNode'],
    sdkTrace: modules[1] as TracingSdk['sdkTrace'],
    resources: modules[2] as TracingSdk['resources'],
    otlpHttp: modules[3] as TracingSdk['otlpHttp'],
  };
}

/** Whether `error` says that package `name` itself cannot be found (not one of its files or deps). */
function isNotInstalled(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // ESM import: "Cannot find package 'x' imported from ..."; require: "Cannot find module 'x'".
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    (message.startsWith(`Cannot find package '${name}'`) ||
      message.startsWith(`Cannot find module '${name}'`))
  );
}
