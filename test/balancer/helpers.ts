// Test doubles for fronts: small TCP servers that read the PROXY v2 header the balancer sends,
// record it, and echo everything after it.
import net from 'node:net';
import { once } from 'node:events';
import { acceptProxyHeader, type AcceptedConnection } from '../../src/balancer/proxy-v2.js';

export interface EchoBackend {
  id: string;
  port: number;
  /** Accepted connections with the addresses from their header (LOCAL health checks excluded). */
  accepted: AcceptedConnection[];
  /** Connections currently open (proxied ones). */
  open: Set<net.Socket>;
  /** Header failures seen (e.g. a connection without header). */
  rejected: Error[];
  close(): Promise<void>;
  /** Resolves when `n` proxied connections have been accepted in total. */
  waitAccepted(n: number): Promise<void>;
}

export async function startEchoBackend(id: string, options: { requireHeader?: boolean } = {}): Promise<EchoBackend> {
  const accepted: AcceptedConnection[] = [];
  const open = new Set<net.Socket>();
  const rejected: Error[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const all = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    all.add(socket);
    socket.on('close', () => all.delete(socket));
    socket.on('error', () => undefined);
    const ready =
      options.requireHeader === false
        ? Promise.resolve(null)
        : acceptProxyHeader(socket, { trustedSources: ['127.0.0.0/8', '::1'], timeoutMs: 5_000 });
    ready.then(
      (conn) => {
        if (conn && conn.header?.command === 'local') {
          socket.destroy();
          return;
        }
        if (conn) accepted.push(conn);
        open.add(socket);
        socket.on('close', () => open.delete(socket));
        for (const w of [...waiters]) {
          if (accepted.length >= w.n) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
        socket.pipe(socket); // echo; ends our side when the client ends its side
      },
      (error: Error) => rejected.push(error),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    id,
    port,
    accepted,
    open,
    rejected,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of all) s.destroy();
      await closed;
    },
    waitAccepted: (n) =>
      accepted.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
  };
}

/** Connects, sends `payload`, and resolves with the echo of exactly `payload.length` bytes. */
export async function echoOnce(
  port: number,
  payload: string,
  options: { host?: string; localAddress?: string; keepOpen?: boolean } = {},
): Promise<{ reply: string; socket: net.Socket }> {
  const socket = net.connect({ host: options.host ?? '127.0.0.1', port, localAddress: options.localAddress });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  socket.write(payload);
  let got = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= payload.length) {
        cleanup();
        resolve();
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`closed after ${got.length} of ${payload.length} echoed bytes`));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
  });
  if (!options.keepOpen) socket.destroy();
  return { reply: got, socket };
}

/** Resolves with 'closed' if the peer closes the connection without sending data, 'data' if it sends. */
export async function outcome(socket: net.Socket, timeoutMs = 5_000): Promise<'closed' | 'data' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve('data');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.on('error', () => undefined);
  });
}

/** A TCP port that nothing listens on (bound, read, released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
