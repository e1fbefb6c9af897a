import {
  ConsulConnection,
  type ConsulOptions,
  ConsulRuleSource,
  defaultCacheDir,
  type WatchStats,
} from '@meshless/consul';
import {
  ConfigError,
  consoleLogger,
  DisposableStore,
  type Event,
  type Logger,
  type RuleChange,
  type RuleSection,
  RuleStore,
  type RuleStoreStatus,
} from '@meshless/core';
import { builtinSections } from './rules/index.ts';

export interface MeshOptions {
  /** The Consul agent to use. Default: the CONSUL_HTTP_* environment, else 127.0.0.1:8500. */
  consul?: ConsulOptions;
  /** KV prefix of the governance center. Default `meshless`. */
  prefix?: string;
  /** Folder for the on-disk last-known-good copy of the rules; `false` disables it. Default $MESHLESS_CACHE_DIR or <tmp>/meshless-cache. */
  cacheDir?: string | false;
  /** A Logger, or a level for the built-in one-line stderr logger. Default `warn`. */
  logger?: Logger | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Extra document kinds to accept under the prefix (your own sections). */
  sections?: readonly RuleSection<unknown>[];
  /**
   * Longest wait in createMesh() for the first rules. When Consul cannot be reached, createMesh()
   * resolves after the first failed attempt (with cached rules if any) and keeps retrying in the
   * background. Default 10 000.
   */
  readyTimeoutMs?: number;
}

export interface MeshStatus {
  readonly consul: {
    readonly address: string;
    /** False while the last request to Consul failed. */
    readonly reachable: boolean;
    readonly watch: Readonly<WatchStats>;
  };
  readonly rules: RuleStoreStatus;
}

export interface Mesh {
  /** The rules in force on this instance. */
  readonly rules: RuleStore;
  /** Fires when a rule document comes into force or is deleted. */
  readonly onDidChangeRules: Event<RuleChange>;
  status(): MeshStatus;
  /** Stops every watch and closes the Consul connection. Idempotent; leaves no handle open. */
  close(): Promise<void>;
}

class MeshImpl implements Mesh {
  readonly rules: RuleStore;
  readonly onDidChangeRules: Event<RuleChange>;
  private readonly disposables = new DisposableStore();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly source: ConsulRuleSource,
    rules: RuleStore,
  ) {
    this.rules = rules;
    this.onDidChangeRules = rules.onDidChange;
    this.disposables.add(source.subscribe((snapshot) => rules.applySnapshot(snapshot)));
  }

  status(): MeshStatus {
    const watch = this.source.stats();
    return {
      consul: { address: this.connection.address, reachable: watch.failures === 0, watch },
      rules: this.rules.status(),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.disposables.dispose();
      this.source.dispose();
      await this.source.stopped;
      this.rules.dispose();
      await this.connection.close();
    })();
    return this.closing;
  }
}

/** Connects to Consul, subscribes to the governance center and returns the mesh. */
export async function createMesh(options: MeshOptions = {}): Promise<Mesh> {
  const logger = resolveLogger(options.logger);
  const prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
  if (prefix === '') throw new ConfigError('prefix: must not be empty', { path: 'prefix' });
  const connection = new ConsulConnection(options.consul);
  const source = new ConsulRuleSource({
    connection,
    prefix,
    cacheDir: options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir,
    logger,
  });
  const rules = new RuleStore({
    prefix,
    sections: [...builtinSections, ...(options.sections ?? [])],
    logger,
  });
  const mesh = new MeshImpl(connection, source, rules);
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    source.ready(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, readyTimeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  // The first snapshot reaches the store on a microtask; let it land before handing out the mesh.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return mesh;
}

function resolveLogger(logger: MeshOptions['logger']): Logger {
  if (logger === undefined) return consoleLogger('warn');
  if (typeof logger === 'string') return consoleLogger(logger);
  return logger;
}
