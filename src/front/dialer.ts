import { connect, type Socket } from 'node:net';
import { noiseConnect, TransportError, type NoiseConnection, type StaticKey } from '../lightning/transport/index.js';
import type { ConnectOutcome } from '../cluster/messages.js';

/**
 * Outgoing peer connections: TCP (or a SOCKS5 proxy for .onion and, if configured, everything),
 * then the BOLT 8 initiator handshake. Failures become one of the connect outcomes the back
 * understands, with a human-readable message.
 */
export interface DialOptions {
  nodeId: Uint8Array;
  host: string;
  port: number;
  staticKey: StaticKey;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Local address to dial from; empty for the system's choice. */
  sourceAddress?: string;
  /** Opens the TCP stream through a proxy (Tor) instead of directly; used for .onion hosts. */
  proxyDial?: (host: string, port: number, timeoutMs: number) => Promise<Socket>;
  /** Send every host through proxyDial, not only .onion (front.tor-all). */
  proxyAll?: boolean;
  signal?: AbortSignal;
}

export class DialError extends Error {
  override readonly name = 'DialError';
  constructor(readonly outcome: Exclude<ConnectOutcome, 'connected'>, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isOnion(host: string): boolean {
  return host.toLowerCase().endsWith('.onion');
}

function tcpConnect(host: string, port: number, timeoutMs: number, sourceAddress?: string, signal?: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true, ...(sourceAddress ? { localAddress: sourceAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DialError('timeout', `TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () => {
      socket.destroy();
      reject(new DialError('failure', 'dial aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(socketErrorToDialError(error, host, port));
    });
  });
}

export function socketErrorToDialError(error: NodeJS.ErrnoException, host: string, port: number): DialError {
  switch (error.code) {
    case 'ECONNREFUSED':
      return new DialError('refused', `${host}:${port} refused the connection`, { cause: error });
    case 'ETIMEDOUT':
      return new DialError('timeout', `${host}:${port} timed out`, { cause: error });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DialError('unreachable', `${host}:${port} is unreachable (${error.code})`, { cause: error });
    default:
      return new DialError('failure', `${host}:${port}: ${error.message}`, { cause: error });
  }
}

export async function dialPeer(options: DialOptions): Promise<NoiseConnection> {
  let socket: Socket;
  if (options.proxyDial && (options.proxyAll || isOnion(options.host))) {
    socket = await options.proxyDial(options.host, options.port, options.connectTimeoutMs);
  } else if (isOnion(options.host)) {
    throw new DialError('unreachable', `${options.host} is an onion address and no Tor SOCKS proxy is configured (front.tor-socks)`);
  } else {
    socket = await tcpConnect(options.host, options.port, options.connectTimeoutMs, options.sourceAddress, options.signal);
  }
  try {
    return await noiseConnect(socket, {
      staticKey: options.staticKey,
      remoteNodeId: options.nodeId,
      timeoutMs: options.handshakeTimeoutMs,
      signal: options.signal,
    });
  } catch (error) {
    socket.destroy();
    if (error instanceof TransportError) {
      if (error.code === 'timeout') throw new DialError('timeout', `BOLT 8 handshake with ${options.host}:${options.port} timed out`, { cause: error });
      if (error.code === 'closed' || error.code === 'socket-error') {
        throw new DialError('auth-failed', `the peer closed during the handshake: wrong node id? (${error.message})`, { cause: error });
      }
      throw new DialError('auth-failed', `BOLT 8 handshake failed: ${error.message}`, { cause: error });
    }
    throw new DialError('failure', error instanceof Error ? error.message : String(error), { cause: error });
  }
}
