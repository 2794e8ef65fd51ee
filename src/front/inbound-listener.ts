import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { acceptProxyHeader, trustedSourceList } from '../balancer/proxy-v2.js';
import { noiseAccept, type NoiseConnection, type StaticKey } from '../lightning/transport/index.js';
import type { Logger } from '../util/log.js';

/**
 * Accepts peer TCP connections: the PROXY v2 header from trusted balancers (the real client address
 * is used from then on), admission limits (total sessions, concurrent handshakes per source address),
 * then the BOLT 8 responder handshake. Every failure closes that socket and nothing else.
 */
export interface InboundListenerOptions {
  host: string;
  port: number;
  staticKey: () => StaticKey;
  proxyTrusted: readonly string[];
  handshakeTimeoutMs: number;
  maxHandshakesPerIp: number;
  /** Sessions plus handshakes this front may hold; over it, new sockets are closed at once. */
  admissionOpen: () => boolean;
  onHandshakeStart(): void;
  onHandshakeEnd(ok: boolean, reason?: string): void;
  onConnection(connection: NoiseConnection, remote: { address: string; port: number; origin: string | null }): void;
  log: Logger;
}

export class InboundListener {
  readonly #server: Server;
  readonly #handshakesPerIp = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  #accepting = true;

  constructor(private readonly options: InboundListenerOptions) {
    const trusted = trustedSourceList(options.proxyTrusted);
    this.#server = createServer({ noDelay: true }, (socket) => void this.#accept(socket, trusted));
    this.#server.on('error', (error) => options.log.error({ err: error }, 'peer listener error'));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  /** Stops taking new peers (back lost, or draining) while keeping the port bound. */
  setAccepting(accepting: boolean): void {
    this.#accepting = accepting;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  async close(): Promise<void> {
    this.#accepting = false;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #accept(socket: Socket, trusted: ReturnType<typeof trustedSourceList>): Promise<void> {
    socket.on('error', () => undefined); // reported through the promise chain below
    if (!this.#accepting || !this.options.admissionOpen()) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    let remote: { address: string; port: number; origin: string | null };
    try {
      const accepted = await acceptProxyHeader(socket, { trustedSources: trusted, timeoutMs: this.options.handshakeTimeoutMs });
      remote = { address: accepted.remoteAddress, port: accepted.remotePort, origin: accepted.origin };
    } catch (error) {
      this.options.log.info({ remote: socket.remoteAddress, reason: (error as Error).message }, 'rejected PROXY header');
      socket.destroy();
      return;
    }
    const inFlight = this.#handshakesPerIp.get(remote.address) ?? 0;
    if (inFlight >= this.options.maxHandshakesPerIp) {
      this.options.log.debug({ remote: remote.address }, 'too many concurrent handshakes from this address');
      socket.destroy();
      return;
    }
    this.#handshakesPerIp.set(remote.address, inFlight + 1);
    this.options.onHandshakeStart();
    try {
      const connection = await noiseAccept(socket, { staticKey: this.options.staticKey(), timeoutMs: this.options.handshakeTimeoutMs });
      this.options.onHandshakeEnd(true);
      this.#sockets.delete(socket);
      this.options.onConnection(connection, remote);
    } catch (error) {
      const reason = (error as { code?: string }).code ?? 'failure';
      this.options.onHandshakeEnd(false, reason);
      this.options.log.debug({ remote: remote.address, reason }, 'inbound handshake failed');
      socket.destroy();
    } finally {
      const left = (this.#handshakesPerIp.get(remote.address) ?? 1) - 1;
      if (left > 0) this.#handshakesPerIp.set(remote.address, left);
      else this.#handshakesPerIp.delete(remote.address);
    }
  }
}
