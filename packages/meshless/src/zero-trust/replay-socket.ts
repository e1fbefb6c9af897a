import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A stream over a socket whose first bytes were already read (to tell TLS from plain HTTP on
 * one port). A TLS socket built over a net.Socket reads its handle directly and would lose
 * those bytes; over a JS stream it reads them through here, the sniffed chunk first.
 */
export function replaySocket(socket: Socket): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (error) => stream.destroy(error));
  socket.on('close', () => stream.destroy());
  // What node:http and tls read from the socket they are given.
  Object.assign(stream, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    setNoDelay: (noDelay?: boolean) => socket.setNoDelay(noDelay),
    setKeepAlive: (enable?: boolean, delay?: number) => socket.setKeepAlive(enable, delay),
    setTimeout: (ms: number, callback?: () => void) => socket.setTimeout(ms, callback),
    ref: () => socket.ref(),
    unref: () => socket.unref(),
  });
  return stream;
}
