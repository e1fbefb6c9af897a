import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import {
  type Clock,
  DeadlineEntry,
  DeadlineQueue,
  type Disposable,
  type Event,
  systemClock,
} from '@meshless/core';

/** The instance's certificate, key and CA roots for serving, current and when they change. */
export interface ServerCredentials {
  /** Undefined until the certificate has arrived (TLS handshakes fail until then). */
  serverOptions(): SecureContextOptions | undefined;
  readonly onDidChange: Event<unknown>;
}

export interface MeshServerOptions {
  /** A connection that sends nothing within this time is closed. Default 10 000 ms. */
  firstByteTimeoutMs?: number;
  clock?: Clock;
}

/** The first byte of a TLS handshake record; an HTTP request starts with a method's letter. */
const TLS_HANDSHAKE = 0x16;

class Waiting extends DeadlineEntry {
  constructor(readonly socket: Socket) {
    super();
  }
}

/**
 * An http.Server (so Express, Fastify's serverFactory and Nest take it as theirs) that also speaks
 * mutual TLS on the same port: each connection's first byte says which. Plain connections go to
 * node:http as they are; TLS ones to an https server that asks for a client certificate and
 * verifies its chain against the current roots (who may call is decided per request, by the
 * inbound guard). New certificates and roots apply to new connections without a restart.
 */
export function createMeshServer(
  listener: RequestListener | undefined,
  credentials: ServerCredentials | undefined,
  options: MeshServerOptions = {},
): Server {
  const server = listener ? createHttpServer(listener) : createHttpServer();
  if (!credentials) return server;
  const secure = createHttpsServer({
    ...(credentials.serverOptions() ?? {}),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  const subscription: Disposable = credentials.onDidChange(() => {
    const options = credentials.serverOptions();
    if (options) secure.setSecureContext(options);
  });
  // Requests on TLS connections reach whoever listens on the server: the listener given here,
  // or the one a framework adds later. Without a listener of its own, each event gets node's
  // default (100-continue then the request, 417 for another expectation, no upgrade).
  secure.on('request', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  secure.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (server.listenerCount('checkContinue') > 0) server.emit('checkContinue', req, res);
    else {
      res.writeContinue();
      server.emit('request', req, res);
    }
  });
  secure.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    if (server.listenerCount('checkExpectation') > 0) server.emit('checkExpectation', req, res);
    else {
      res.writeHead(417);
      res.end();
    }
  });
  for (const event of ['upgrade', 'connect'] as const) {
    secure.on(event, (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (server.listenerCount(event) > 0) server.emit(event, req, socket, head);
      else socket.destroy();
    });
  }
  secure.on('tlsClientError', (_error, socket) => socket.destroy());
  const plain = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const timeoutMs = options.firstByteTimeoutMs ?? 10_000;
  const waiting = new DeadlineQueue<Waiting>(
    timeoutMs,
    (w) => w.socket.destroy(),
    options.clock ?? systemClock,
  );
  server.on('connection', (socket: Socket) => {
    const entry = new Waiting(socket);
    waiting.add(entry);
    const onClose = () => waiting.cancel(entry);
    socket.once('close', onClose);
    socket.once('data', (chunk: Buffer) => {
      waiting.cancel(entry);
      socket.off('close', onClose);
      socket.pause();
      socket.unshift(chunk);
      // A TLS socket made over this one takes the bytes already read ("buffered data": node's
      // TLSSocket feeds them to the handshake), then reads the handle itself: the socket must
      // stay paused here, or the JS side would take the next bytes from it.
      if (chunk[0] === TLS_HANDSHAKE) {
        // node:http's sockets allow half-open; a TLS socket over one would take a client's EOF in
        // the handshake for a half-close and keep the connection until the handshake timeout.
        socket.allowHalfOpen = false;
        secure.emit('connection', socket);
      } else {
        for (const connection of plain) connection.call(server, socket);
        socket.resume();
      }
    });
  });
  // node:http tracks connections (timeouts, closeIdleConnections) from 'listening' to close();
  // the timeouts set on the server by then hold for its TLS connections too.
  server.on('listening', () => {
    secure.keepAliveTimeout = server.keepAliveTimeout;
    secure.headersTimeout = server.headersTimeout;
    secure.requestTimeout = server.requestTimeout;
    secure.timeout = server.timeout;
    secure.maxHeadersCount = server.maxHeadersCount;
    secure.maxRequestsPerSocket = server.maxRequestsPerSocket;
    secure.emit('listening');
  });
  const closeAll = server.closeAllConnections.bind(server);
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    secure.closeAllConnections();
  };
  server.closeIdleConnections = () => {
    closeIdle();
    secure.closeIdleConnections();
  };
  server.on('close', () => {
    subscription.dispose();
    waiting.dispose();
    // Never listened itself: close() stops its connection tracking and ends idle connections.
    secure.close(() => {});
  });
  return server;
}
