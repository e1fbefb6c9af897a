import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@meshless/core';

/** What the connection needs to speak HTTPS to the agent; file contents, read once at start. */
export interface AgentTlsMaterial {
  readonly ca: Buffer[] | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
}

export interface AgentTlsFiles {
  readonly caFile: string | undefined;
  readonly caPath: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

/** A CA directory (CONSUL_CAPATH) is read up to this many certificate files... */
export const MAX_CA_FILES = 256;
/** ...and any one file (CA, certificate, key, token) up to this size. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads the CA, client certificate and key named by the options. An unreadable file is a
 * ConfigError naming the option and its environment variable (never the file's content).
 */
export function loadAgentTls(files: AgentTlsFiles): AgentTlsMaterial {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    const [given, missing] = files.certFile === undefined ? ['keyFile', 'certFile'] : ['certFile', 'keyFile'];
    throw new ConfigError(
      `consul.${given}: a client certificate needs both consul.certFile (CONSUL_CLIENT_CERT) and ` +
        `consul.keyFile (CONSUL_CLIENT_KEY); consul.${missing} is not set`,
      { path: `consul.${missing}` },
    );
  }
  const ca: Buffer[] = [];
  if (files.caFile !== undefined) ca.push(readBounded(files.caFile, 'caFile', 'CONSUL_CACERT'));
  if (files.caPath !== undefined) ca.push(...readCaDirectory(files.caPath));
  return {
    ca: ca.length > 0 ? ca : undefined,
    cert:
      files.certFile === undefined
        ? undefined
        : readBounded(files.certFile, 'certFile', 'CONSUL_CLIENT_CERT'),
    key: files.keyFile === undefined ? undefined : readBounded(files.keyFile, 'keyFile', 'CONSUL_CLIENT_KEY'),
  };
}

/** The token in a file (CONSUL_HTTP_TOKEN_FILE), read once and trimmed. */
export function readTokenFile(file: string, option: string, envName: string): string {
  const token = readBounded(file, option, envName).toString('utf8').trim();
  if (token === '') {
    throw new ConfigError(`consul.${option} (${envName}): ${JSON.stringify(file)} is empty`, {
      path: `consul.${option}`,
    });
  }
  return token;
}

/** Every `*.pem` / `*.crt` in the directory, in name order, at most MAX_CA_FILES of them. */
function readCaDirectory(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw unreadable(dir, 'caPath', 'CONSUL_CAPATH', cause);
  }
  const pems = names.filter((n) => n.endsWith('.pem') || n.endsWith('.crt')).sort();
  if (pems.length > MAX_CA_FILES) {
    throw new ConfigError(
      `consul.caPath (CONSUL_CAPATH): ${JSON.stringify(dir)} holds ${pems.length} certificate files, ` +
        `more than ${MAX_CA_FILES}`,
      { path: 'consul.caPath' },
    );
  }
  if (pems.length === 0) {
    throw new ConfigError(
      `consul.caPath (CONSUL_CAPATH): ${JSON.stringify(dir)} holds no *.pem or *.crt file`,
      { path: 'consul.caPath' },
    );
  }
  return pems.map((n) => readBounded(join(dir, n), 'caPath', 'CONSUL_CAPATH'));
}

/** Reads a whole file of at most MAX_FILE_BYTES; a larger one (or /dev/zero) is refused, not read. */
function readBounded(file: string, option: string, envName: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (cause) {
    throw unreadable(file, option, envName, cause);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw unreadable(file, option, envName, new Error('not a regular file'));
    if (stat.size > MAX_FILE_BYTES) {
      throw new ConfigError(
        `consul.${option} (${envName}): ${JSON.stringify(file)} is larger than ${MAX_FILE_BYTES} bytes`,
        { path: `consul.${option}` },
      );
    }
    const buffer = Buffer.alloc(stat.size);
    let at = 0;
    while (at < buffer.length) {
      const n = readSync(fd, buffer, at, buffer.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return buffer.subarray(0, at);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw unreadable(file, option, envName, cause);
  } finally {
    closeSync(fd);
  }
}

function unreadable(file: string, option: string, envName: string, cause: unknown): ConfigError {
  const why = (cause as { code?: string })?.code ?? (cause as Error)?.message ?? String(cause);
  return new ConfigError(`consul.${option} (${envName}): cannot read ${JSON.stringify(file)}: ${why}`, {
    path: `consul.${option}`,
    cause,
  });
}

/** Codes of a server certificate the connection does not trust (no or the wrong CA configured). */
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * What a TLS failure means for the operator, since the bare code reads like a server fault. An
 * agent with `verify_incoming` ends the handshake with an alert when no (or an untrusted) client
 * certificate comes.
 */
export function tlsHint(what: string): string {
  if (UNTRUSTED_SERVER.has(what))
    return " (the agent's certificate is not signed by a CA this connection trusts: set consul.caFile or consul.caPath, or CONSUL_CACERT or CONSUL_CAPATH)";
  if (what === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return " (the agent's certificate does not name this host: set consul.tlsServerName or CONSUL_TLS_SERVER_NAME to a name it holds, e.g. server.<dc>.consul)";
  if (!what.startsWith('ERR_SSL_')) return '';
  if (
    what.includes('BAD_CERTIFICATE') ||
    what.includes('CERTIFICATE_REQUIRED') ||
    what.includes('UNKNOWN_CA')
  )
    return ' (the agent refused the client certificate, or got none: it requires one signed by its CA; set consul.certFile and consul.keyFile, or CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)';
  return '';
}
