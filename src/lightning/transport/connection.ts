import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { defaultCrypto, type CryptoProvider } from '../crypto/index.js';
import { asTransportError, TransportError } from './errors.js';
import { encryptFrame, FrameDecoder } from './framing.js';
import {
  ACT1_LENGTH,
  ACT2_LENGTH,
  ACT3_LENGTH,
  NoiseInitiator,
  NoiseResponder,
  type HandshakeResult,
} from './handshake.js';
import type { StaticKey } from './static-key.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** After close(), how long pending writes may take to flush before the socket is destroyed anyway. */
const CLOSE_FLUSH_TIMEOUT_MS = 5_000;

interface CommonOptions {
  /** Our node key; its ECDH may be remote (keyless front). */
  readonly staticKey: StaticKey;
  /** Defaults to defaultCrypto(). */
  readonly crypto?: CryptoProvider;
  /** Whole handshake, TCP connect included when the socket is still connecting. Default 30 s; 0 or Infinity: none. */
  readonly timeoutMs?: number;
  /** Aborts the handshake only; once connected, use NoiseConnection.close(). */
  readonly signal?: AbortSignal;
  /** Fixed ephemeral secret: tests only. */
  readonly ephemeralSecret?: Uint8Array;
}

export interface NoiseConnectOptions extends CommonOptions {
  /** The node we dial: its 33-byte id. */
  readonly remoteNodeId: Uint8Array;
}

export interface NoiseAcceptOptions extends CommonOptions {
  /** Bytes already read off the socket (for example after a PROXY protocol header). */
  readonly initialData?: Uint8Array;
}

export interface NoiseConnectionEvents {
  /** One decrypted message, without framing. */
  message: [message: Uint8Array];
  /** The socket's write buffer emptied after send() returned false. */
  drain: [];
  /** Emitted once. `error` is undefined for a local close() or a clean close by the peer. */
  close: [error: TransportError | undefined];
}

/** Initiator: runs BOLT 8 acts 1-3 over `socket` (connected or still connecting). */
export function noiseConnect(socket: Socket, options: NoiseConnectOptions): Promise<NoiseConnection> {
  return runHandshake(socket, options, async (io, crypto) => {
    const initiator = new NoiseInitiator({
      crypto,
      staticKey: options.staticKey,
      remoteStaticKey: options.remoteNodeId,
      ephemeralSecret: options.ephemeralSecret,
    });
    await io.connected();
    io.write(initiator.createAct1());
    const { act3, result } = await initiator.processAct2(await io.read(ACT2_LENGTH));
    io.write(act3);
    return result;
  });
}

/** Responder: answers BOLT 8 acts 1-3 on an accepted `socket`. */
export function noiseAccept(socket: Socket, options: NoiseAcceptOptions): Promise<NoiseConnection> {
  return runHandshake(socket, options, async (io, crypto) => {
    const responder = new NoiseResponder({ crypto, staticKey: options.staticKey, ephemeralSecret: options.ephemeralSecret });
    if (options.initialData && options.initialData.length > 0) io.unshift(options.initialData);
    io.write(await responder.processAct1(await io.read(ACT1_LENGTH)));
    return responder.processAct3(await io.read(ACT3_LENGTH));
  });
}

/** The socket as the handshake sees it: exact-size reads with bounded buffering, plain writes. */
interface HandshakeIo {
  connected(): Promise<void>;
  read(length: number): Promise<Uint8Array>;
  unshift(bytes: Uint8Array): void;
  write(bytes: Uint8Array): void;
}

function runHandshake(
  socket: Socket,
  options: CommonOptions,
  drive: (io: HandshakeIo, crypto: CryptoProvider) => Promise<HandshakeResult>,
): Promise<NoiseConnection> {
  const crypto = options.crypto ?? defaultCrypto();
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  // Installed first and never removed: a socket 'error' with no listener would crash the process.
  socket.on('error', noop);

  return new Promise<NoiseConnection>((resolve, reject) => {
    let settled = false;
    let chunks: Uint8Array[] = [];
    let buffered = 0;
    let waiting: { length: number; resolve: (bytes: Uint8Array) => void } | undefined;
    let waitingConnect: (() => void) | undefined;
    let failWaiter: ((error: TransportError) => void) | undefined;

    const cleanup = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.off('connect', onConnect);
    };
    const fail = (error: TransportError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      failWaiter?.(error);
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      buffered += chunk.length;
      serveRead();
    };
    const onClose = (): void => fail(new TransportError('closed', 'connection closed during the handshake'));
    const onError = (error: Error): void => fail(new TransportError('socket-error', `socket error during the handshake: ${error.message}`, { cause: error }));
    const onConnect = (): void => {
      const resume = waitingConnect;
      waitingConnect = undefined;
      resume?.();
    };
    const onAbort = (): void => fail(new TransportError('aborted', 'handshake aborted', { cause: options.signal?.reason }));
    const timer =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => fail(new TransportError('timeout', `handshake did not complete within ${timeoutMs} ms`)), timeoutMs)
        : undefined;

    /** Takes exactly `length` bytes once they are there; pauses the socket meanwhile so buffers stay bounded. */
    const serveRead = (): void => {
      if (!waiting) {
        socket.pause();
        return;
      }
      if (buffered < waiting.length) {
        socket.resume();
        return;
      }
      const joined = takeBytes(waiting.length);
      const deliver = waiting.resolve;
      waiting = undefined;
      socket.pause();
      deliver(joined);
    };
    const takeBytes = (length: number): Uint8Array => {
      const out = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const head = chunks[0]!;
        const take = Math.min(head.length, length - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) chunks.shift();
        else chunks[0] = head.subarray(take);
      }
      buffered -= length;
      return out;
    };

    const io: HandshakeIo = {
      connected: () =>
        socket.connecting
          ? new Promise<void>((resolveConnect) => {
              waitingConnect = resolveConnect;
            })
          : Promise.resolve(),
      read: (length) =>
        new Promise<Uint8Array>((resolveRead, rejectRead) => {
          if (settled) {
            rejectRead(new TransportError('closed', 'handshake already ended'));
            return;
          }
          failWaiter = rejectRead;
          waiting = { length, resolve: resolveRead };
          serveRead();
        }),
      unshift: (bytes) => {
        chunks.unshift(bytes.slice());
        buffered += bytes.length;
      },
      write: (bytes) => {
        // A remote ECDH can answer after a timeout or abort ended the handshake: nothing to send then.
        if (settled) throw new TransportError('closed', 'handshake already ended');
        socket.write(bytes);
      },
    };

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    if (socket.destroyed) {
      fail(new TransportError('closed', 'socket is already closed'));
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.on('connect', onConnect);
    socket.pause();

    drive(io, crypto).then(
      (result) => {
        if (settled) return;
        settled = true;
        cleanup();
        const leftover = chunks;
        chunks = [];
        resolve(new NoiseConnection(socket, result, options.staticKey.publicKey, leftover));
      },
      (error: unknown) => fail(asTransportError(error, 'bad-state', 'handshake failed')),
    );
  });
}

function noop(): void {}

/**
 * An established BOLT 8 session over a socket. Never throws asynchronously: every failure ends in one
 * 'close' event carrying a TransportError, with the socket destroyed.
 */
export class NoiseConnection extends EventEmitter<NoiseConnectionEvents> {
  /** The peer's 33-byte node id, authenticated by the handshake. */
  readonly remoteNodeId: Uint8Array;
  /** Our own node id. */
  readonly localNodeId: Uint8Array;
  /** BOLT 8 handshake hash (same on both sides). */
  readonly handshakeHash: Uint8Array;
  private readonly decoder: FrameDecoder;
  private readonly result: HandshakeResult;
  private paused = false;
  private closing = false;
  private closed = false;
  private failure: TransportError | undefined;
  /** Messages decoded while paused: at most one socket read's worth, since the socket is paused too. */
  private backlog: Uint8Array[] = [];

  /** @internal Created by noiseConnect/noiseAccept. */
  constructor(
    private readonly socket: Socket,
    result: HandshakeResult,
    localNodeId: Uint8Array,
    leftover: Uint8Array[],
  ) {
    super();
    this.result = result;
    this.remoteNodeId = result.remoteStaticKey;
    this.localNodeId = localNodeId.slice();
    this.handshakeHash = result.handshakeHash;
    this.decoder = new FrameDecoder(result.receiveCipher);
    socket.on('data', (chunk: Buffer) => this.onBytes(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', (error) => this.fail(new TransportError('socket-error', `socket error: ${error.message}`, { cause: error })));
    socket.on('close', () => this.onSocketClose());
    socket.pause();
    // Bytes that came with the last act are decoded on the next turn, once the caller has had the
    // chance to attach its 'message' listener.
    setImmediate(() => {
      for (const chunk of leftover) this.onBytes(chunk);
      if (!this.paused && !this.closing) socket.resume();
    });
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** True once close() was called or the connection failed. */
  get isClosed(): boolean {
    return this.closing || this.closed;
  }

  /**
   * Encrypts and queues one message. Returns false when the socket's write buffer is full: wait for
   * 'drain'. Throws TransportError('message-too-large') (connection unharmed) or ('closed').
   */
  send(message: Uint8Array): boolean {
    if (this.closing || this.closed) throw new TransportError('closed', 'connection is closed');
    return this.socket.write(encryptFrame(this.result.sendCipher, message));
  }

  /** Stops 'message' events (and reading from the socket) until resume(). */
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    while (!this.paused && this.backlog.length > 0 && !this.closed) this.emit('message', this.backlog.shift()!);
    if (!this.paused && !this.closing && !this.closed) this.socket.resume();
  }

  /** Flushes what was sent, then closes. 'close' follows with no error. */
  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    this.backlog = [];
    const force = setTimeout(() => this.socket.destroy(), CLOSE_FLUSH_TIMEOUT_MS);
    force.unref();
    this.socket.once('finish', () => this.socket.destroy());
    this.socket.end();
  }

  private onBytes(chunk: Uint8Array): void {
    if (this.closing || this.closed) return;
    try {
      this.decoder.push(chunk, this.deliver);
    } catch (error) {
      // Only the decoder's own failures are caught here: a throwing 'message' listener is rethrown by push().
      if (error instanceof TransportError) this.fail(error);
      else throw error;
    }
  }

  private readonly deliver = (message: Uint8Array): void => {
    if (this.closing || this.closed) return;
    if (this.paused) this.backlog.push(message);
    else this.emit('message', message);
  };

  private fail(error: TransportError): void {
    if (this.closed) return;
    this.failure ??= error;
    this.closing = true;
    this.backlog = [];
    this.socket.destroy();
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.emit('close', this.failure);
  }
}
