import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Clock,
  ConfigError,
  type ConsulError,
  type Disposable,
  Emitter,
  type Event,
  type Logger,
  noopLogger,
  type Random,
  systemClock,
  systemRandom,
} from '@meshless/core';
import { BlockingWatch, type WatchStats } from './blocking-watch.ts';
import { type CaRoots, type LeafCertificate, parseLeaf, parseRoots } from './connect-identity-parse.ts';
import type { ConsulConnection } from './connection.ts';
import { ReadyLatch } from './ready-latch.ts';

export interface ConnectMaterial {
  readonly service: string;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly datacenter: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** every listed root and intermediate, PEM */
  readonly rootsPem: readonly string[];
  readonly serial: string;
  readonly validBefore: Date;
  readonly activeRootId: string;
}

export interface ConnectIdentityOptions {
  connection: ConsulConnection;
  service: string;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** operator opt-in: write cert+key+roots here, files mode 0600, dir 0700; default: memory only */
  certificateDir?: string;
  waitMs?: number;
}

/**
 * This instance's Connect identity: its leaf certificate and the CA roots, each followed by a
 * blocking query, so a renewal or a CA rotation arrives as one new ConnectMaterial (no restart).
 * A leaf from another trust domain than the roots' is held back until they agree (a rotation to
 * a new CA can deliver one before the other). Errors go to the logger; the key is never logged.
 */
export class ConnectIdentity implements Disposable {
  private readonly options: ConnectIdentityOptions;
  private readonly logger: Logger;
  private readonly leafWatch: BlockingWatch<LeafCertificate>;
  private readonly rootsWatch: BlockingWatch<CaRoots>;
  private readonly emitter = new Emitter<ConnectMaterial>();
  private readonly latch: ReadyLatch<ConnectMaterial>;
  private leaf: LeafCertificate | undefined;
  private roots: CaRoots | undefined;
  private material: ConnectMaterial | undefined;
  private mismatchLogged = false;
  private disposed = false;
  private writes: Promise<void> = Promise.resolve();

  /** Fires when the leaf was renewed or the roots changed (only real changes). */
  readonly onDidChange: Event<ConnectMaterial> = this.emitter.event;
  /** Resolves when both watch loops have ended and opt-in file writes settled (after dispose). */
  readonly done: Promise<void>;

  constructor(options: ConnectIdentityOptions) {
    if (!options.service) throw new ConfigError('ConnectIdentity: service is required', { path: 'service' });
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    const clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    const service = options.service;
    this.latch = new ReadyLatch(clock, `connect identity for ${service}`);
    const common = {
      connection: options.connection,
      clock,
      random,
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
    };
    this.leafWatch = new BlockingWatch<LeafCertificate>({
      ...common,
      path: `/v1/agent/connect/ca/leaf/${encodeURIComponent(service)}`,
      parse: (res) => parseLeaf(res.body, service),
      equals: (a, b) => a.serial === b.serial && a.certPem === b.certPem && a.keyPem === b.keyPem,
      onChange: (leaf) => {
        this.leaf = leaf;
        this.latch.refuse(undefined);
        this.update();
      },
      onError: (error, info) => this.watchError('leaf', error, info),
    });
    this.rootsWatch = new BlockingWatch<CaRoots>({
      ...common,
      path: '/v1/agent/connect/ca/roots',
      parse: (res) => parseRoots(res.body),
      equals: sameRoots,
      onChange: (roots) => {
        if (roots.skipped > 0)
          this.logger.warn('connect roots: malformed certificates left out', {
            service,
            skipped: roots.skipped,
          });
        this.roots = roots;
        this.update();
      },
      onError: (error, info) => this.watchError('roots', error, info),
    });
    this.done = Promise.all([this.leafWatch.done, this.rootsWatch.done]).then(() => this.writes);
  }

  /** undefined until both leaf and roots answered (and agree on the trust domain). */
  current(): ConnectMaterial | undefined {
    return this.material;
  }

  /**
   * The first material; rejects with ConsulError after `timeoutMs` (default 15 s), on dispose, or
   * at once while the agent refuses the leaf (403: the token lacks service:write; the watch keeps
   * trying, and `onDidChange` fires when it is granted).
   */
  ready(timeoutMs = 15_000): Promise<ConnectMaterial> {
    return this.latch.wait(timeoutMs, () => {
      const leaf = this.leafWatch.stats().lastError;
      const roots = this.rootsWatch.stats().lastError;
      if (this.leaf && this.roots) return 'the leaf and the roots name different trust domains';
      return [leaf && `leaf: ${leaf}`, roots && `roots: ${roots}`].filter(Boolean).join('; ') || undefined;
    });
  }

  stats(): { leaf: WatchStats; roots: WatchStats; validBefore: string | undefined; rootCount: number } {
    return {
      leaf: this.leafWatch.stats(),
      roots: this.rootsWatch.stats(),
      validBefore: this.material?.validBefore.toISOString(),
      rootCount: this.material?.rootsPem.length ?? 0,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.leafWatch.dispose();
    this.rootsWatch.dispose();
    this.latch.close();
    this.emitter.dispose();
  }

  private update(): void {
    const { leaf, roots } = this;
    if (this.disposed || !leaf || !roots) return;
    if (leaf.id.trustDomain !== roots.trustDomain) {
      if (!this.mismatchLogged)
        this.logger.warn("connect leaf held back: its trust domain is not the roots'", {
          service: leaf.service,
          leaf: leaf.id.trustDomain,
          roots: roots.trustDomain,
        });
      this.mismatchLogged = true;
      return;
    }
    this.mismatchLogged = false;
    const prev = this.material;
    if (
      prev &&
      prev.serial === leaf.serial &&
      prev.certPem === leaf.certPem &&
      prev.activeRootId === roots.activeRootId &&
      sameList(prev.rootsPem, roots.rootsPem)
    )
      return;
    const material: ConnectMaterial = Object.freeze({
      service: leaf.service,
      spiffeId: leaf.spiffeId,
      trustDomain: roots.trustDomain,
      datacenter: leaf.id.datacenter,
      certPem: leaf.certPem,
      keyPem: leaf.keyPem,
      rootsPem: roots.rootsPem,
      serial: leaf.serial,
      validBefore: leaf.validBefore,
      activeRootId: roots.activeRootId,
    });
    this.material = material;
    this.logger.info(prev ? 'connect identity updated' : 'connect identity ready', {
      service: material.service,
      spiffeId: material.spiffeId,
      serial: material.serial,
      validBefore: material.validBefore.toISOString(),
      roots: material.rootsPem.length,
    });
    if (this.options.certificateDir !== undefined) this.writeFiles(this.options.certificateDir, material);
    this.emitter.fire(material);
    this.latch.open(material);
  }

  private watchError(
    what: 'leaf' | 'roots',
    error: unknown,
    info: { failures: number; retryInMs: number },
  ): void {
    const status = (error as ConsulError)?.status;
    const fields = {
      service: this.options.service,
      error: (error as Error)?.message ?? String(error),
      failures: info.failures,
      retryInMs: info.retryInMs,
      ...(status === 403 && what === 'leaf'
        ? { hint: `the ACL token needs service:write on ${this.options.service}` }
        : {}),
    };
    if (status === 403 && what === 'leaf') this.latch.refuse(`leaf: ${fields.error}`);
    if (info.failures <= 1) this.logger.warn(`connect ${what} watch failed; retrying`, fields);
    else this.logger.debug(`connect ${what} watch failed; retrying`, fields);
  }

  /** Opt-in files, replaced atomically (write a 0600 temp file, rename), one write at a time. */
  private writeFiles(dir: string, m: ConnectMaterial): void {
    this.writes = this.writes.then(async () => {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
        await writePrivate(join(dir, 'cert.pem'), m.certPem);
        await writePrivate(join(dir, 'key.pem'), m.keyPem);
        await writePrivate(join(dir, 'roots.pem'), m.rootsPem.join('\n'));
      } catch (error) {
        this.logger.warn('connect certificate files not written', {
          service: m.service,
          dir,
          error: (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message,
        });
      }
    });
  }
}

async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await unlink(tmp).catch(() => {});
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.chmod(0o600); // the umask may have narrowed nothing, but never widen
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameRoots(a: CaRoots, b: CaRoots): boolean {
  return (
    a.trustDomain === b.trustDomain && a.activeRootId === b.activeRootId && sameList(a.rootsPem, b.rootsPem)
  );
}
