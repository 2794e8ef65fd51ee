// Small TCP helpers for the transport tests: servers on 127.0.0.1 port 0 that clean up after themselves.
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { NoiseConnection } from '../../src/lightning/transport/index.js';

export interface TestServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0; every accepted socket goes to onSocket and is destroyed on close(). */
export async function listen(onSocket: (socket: Socket) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function dial(port: number): Socket {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {}); // tests look at 'close' and at the noise layer's typed errors
  return socket;
}

/** Resolves with the next `count` messages of a connection. */
export function nextMessages(connection: NoiseConnection, count: number): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const received: Uint8Array[] = [];
    if (count === 0) {
      resolve(received);
      return;
    }
    const onMessage = (message: Uint8Array): void => {
      received.push(message);
      if (received.length === count) {
        connection.off('message', onMessage);
        connection.off('close', onClose);
        resolve(received);
      }
    };
    const onClose = (error: unknown): void => reject(new Error(`closed after ${received.length}/${count} messages: ${String(error)}`));
    connection.on('message', onMessage);
    connection.on('close', onClose);
  });
}

/** Reads exactly `length` bytes from a raw socket (leaves the rest buffered in the socket). */
export async function readExactly(socket: Socket, length: number): Promise<Uint8Array> {
  for (;;) {
    const chunk = socket.read(length) as Buffer | null;
    if (chunk) return new Uint8Array(chunk);
    if (socket.destroyed || socket.readableEnded) throw new Error('socket closed before enough bytes arrived');
    await Promise.race([once(socket, 'readable'), once(socket, 'close')]);
  }
}

/** Writes and waits until the bytes are handed to the kernel. */
export function writeFlushed(socket: Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve())));
}

/** A recognisable message: its index in the first 4 bytes (so at least 4 bytes long). */
export function testMessage(index: number, length = 32): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, length));
  new DataView(bytes.buffer).setUint32(0, index);
  for (let i = 4; i < bytes.length; i++) bytes[i] = (index + i) & 0xff;
  return bytes;
}
