import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ConnectMaterial } from '@meshless/consul';
import { type Disposable, Emitter, type Event, type Logger } from '@meshless/core';

/** What TlsCredentials reads of a ConnectIdentity. */
export interface IdentitySource {
  current(): ConnectMaterial | undefined;
  readonly onDidChange: Event<ConnectMaterial>;
}

/**
 * The instance's TLS material as node:tls takes it, built once per certificate or roots change
 * (never per connection): the options an https server swaps in with setSecureContext, and one
 * client SecureContext for every outgoing handshake. The leaf is sent whole (Consul appends a
 * cross-signed root after a CA rotation, so peers still on the old root verify it); every listed
 * root is trusted, so both sides of a rotation verify.
 */
export class TlsCredentials implements Disposable {
  private material: ConnectMaterial | undefined;
  private options: SecureContextOptions | undefined;
  private context: SecureContext | undefined;
  private readonly emitter = new Emitter<ConnectMaterial>();
  private readonly subscription: Disposable;
  /** After the new material is in place: servers swap contexts, clients start new pools. */
  readonly onDidChange: Event<ConnectMaterial> = this.emitter.event;

  constructor(
    identity: IdentitySource,
    private readonly logger: Logger,
  ) {
    const first = identity.current();
    if (first) this.apply(first);
    this.subscription = identity.onDidChange((m) => {
      if (this.apply(m)) this.emitter.fire(m);
    });
  }

  /** Whether the identity has arrived (a leaf and roots of one trust domain). */
  get ready(): boolean {
    return this.material !== undefined;
  }

  get trustDomain(): string | undefined {
    return this.material?.trustDomain;
  }

  get datacenter(): string | undefined {
    return this.material?.datacenter;
  }

  get spiffeId(): string | undefined {
    return this.material?.spiffeId;
  }

  /** Key, certificate chain and roots for an https server; undefined before the identity arrived. */
  serverOptions(): SecureContextOptions | undefined {
    return this.options;
  }

  /** The client side's context (certificate, key, roots); throws before the identity arrived. */
  clientContext(): SecureContext {
    if (!this.context) throw new Error('zero trust: no certificate yet');
    return this.context;
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }

  private apply(m: ConnectMaterial): boolean {
    try {
      const options: SecureContextOptions = { key: m.keyPem, cert: m.certPem, ca: [...m.rootsPem] };
      const context = createSecureContext({ ...options, minVersion: 'TLSv1.2' });
      this.material = m;
      this.options = options;
      this.context = context;
      return true;
    } catch (error) {
      // A certificate node:tls cannot load must not replace the one that works.
      this.logger.error('zero trust: the new certificate could not be loaded; keeping the current one', {
        service: m.service,
        serial: m.serial,
        error: (error as Error).message,
      });
      return false;
    }
  }
}
