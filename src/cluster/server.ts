import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { ClusterCredentials } from './certificate.js';
import { ClusterProtocolError } from './errors.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, negotiateVersion } from './handshake.js';
import { ClusterLink, DEFAULT_LINK_OPTIONS, type ClusterLinkOptions } from './link.js';
import type { ClusterMessage, HelloMessage, WelcomeMessage } from './messages.js';
import { createClusterTlsServer, isTrustedPeer, untrustedCertificateError } from './tls.js';

/** What the back decides per front; the server adds the version and the link heartbeat settings. */
export type ClusterWelcomeFields = Omit<WelcomeMessage, 'type' | 'version' | 'linkHeartbeatIntervalMs' | 'linkDeadAfterMs'>;

export interface ClusterServerOptions {
  credentials: ClusterCredentials;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Builds the welcome for a front. Throwing (or rejecting) refuses that front with an `error` frame. */
  welcome: (hello: HelloMessage) => ClusterWelcomeFields | Promise<ClusterWelcomeFields>;
  link?: ClusterLinkOptions;
  /** TLS handshake plus hello must finish within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface FrontConnection {
  frontId: string;
  hello: HelloMessage;
  /** The negotiated protocol version. */
  version: number;
  link: ClusterLink;
  remoteAddress: string;
}

export interface ClusterConnectionRejected {
  remoteAddress: string;
  error: Error;
}

export interface ClusterServerEvents {
  /** A front completed hello/welcome. Attach 'message'/'close' listeners synchronously in the handler. */
  front: [FrontConnection];
  /** A connection was refused (TLS, pinning, protocol, timeout). The server keeps serving. */
  rejected: [ClusterConnectionRejected];
  /** An error of the listening socket itself after listen() succeeded. */
  'server-error': [Error];
}

/** The back's side: accepts fronts over mutual TLS and performs the hello/welcome exchange. */
export class ClusterServer extends EventEmitter<ClusterServerEvents> {
  private readonly server: Server;
  private readonly fronts = new Map<string, ClusterLink>();
  private readonly links = new Set<ClusterLink>();
  /** Links that completed the handshake (a WeakSet: closed links drop out by themselves). */
  private readonly accepted = new WeakSet<ClusterLink>();
  private readonly handshakeTimeoutMs: number;
  private closing = false;

  constructor(private readonly options: ClusterServerOptions) {
    super();
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.server = createClusterTlsServer(options.credentials, this.handshakeTimeoutMs);
    this.server.on('secureConnection', (socket) => this.onSecureConnection(socket));
    this.server.on('tlsClientError', (error, socket) => {
      socket.destroy();
      this.emit('rejected', { remoteAddress: addressOf(socket), error });
    });
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.emit('server-error', error));
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo | undefined {
    return (this.server.address() as AddressInfo | null) ?? undefined;
  }

  /** Live links by front id. */
  get frontLinks(): ReadonlyMap<string, ClusterLink> {
    return this.fronts;
  }

  /** Stops listening and closes every link. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of [...this.links]) link.close('local', 'back shutting down');
    for (const link of [...this.links]) link.socket.destroy();
    await closed;
  }

  private onSecureConnection(socket: TLSSocket): void {
    const remoteAddress = addressOf(socket);
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!isTrustedPeer(socket, this.options.credentials)) {
      socket.destroy();
      this.emit('rejected', { remoteAddress, error: untrustedCertificateError(socket) });
      return;
    }
    const link = new ClusterLink(socket, { ...this.options.link, label: `front@${remoteAddress}` });
    this.links.add(link);
    const timer = setTimeout(
      () => link.protocolError(new ClusterProtocolError('handshake-timeout', `no hello within ${this.handshakeTimeoutMs} ms`)),
      this.handshakeTimeoutMs,
    );
    timer.unref();
    const onFirstMessage = (message: ClusterMessage) => {
      link.off('message', onFirstMessage);
      void this.onFirstMessage(link, message, remoteAddress).finally(() => clearTimeout(timer));
    };
    link.on('message', onFirstMessage);
    link.once('close', (closed) => {
      clearTimeout(timer);
      this.links.delete(link);
      // A link that never became a front (garbage, timeout, refused hello) is reported once here;
      // a registered front's close belongs to whoever took it in the 'front' event.
      if (!this.accepted.has(link) && closed.reason !== 'local') {
        this.emit('rejected', { remoteAddress, error: closed.error ?? new Error(closed.message) });
      }
    });
  }

  private async onFirstMessage(link: ClusterLink, message: ClusterMessage, remoteAddress: string): Promise<void> {
    if (message.type !== 'hello') {
      this.reject(link, new ClusterProtocolError('unexpected-message', `expected hello, got ${message.type}`));
      return;
    }
    link.pause();
    let version: number;
    let fields: ClusterWelcomeFields;
    try {
      version = negotiateVersion(message.minVersion, message.maxVersion);
      fields = await this.options.welcome(message);
    } catch (error) {
      const protocolError =
        error instanceof ClusterProtocolError ? error : new ClusterProtocolError('unexpected-message', `front refused: ${(error as Error).message}`);
      this.reject(link, protocolError);
      return;
    }
    if (link.closed || this.closing) return;
    const linkOptions = { ...DEFAULT_LINK_OPTIONS, ...definedOnly(this.options.link ?? {}) };
    link.send({
      type: 'welcome',
      ...fields,
      version,
      linkHeartbeatIntervalMs: linkOptions.heartbeatIntervalMs,
      linkDeadAfterMs: linkOptions.deadAfterMs,
    });
    link.on('message', (later) => {
      if (later.type === 'hello' || later.type === 'welcome') {
        link.protocolError(new ClusterProtocolError('unexpected-message', `${later.type} after the handshake`));
      }
    });
    const older = this.fronts.get(message.frontId);
    this.fronts.set(message.frontId, link);
    link.once('close', () => {
      if (this.fronts.get(message.frontId) === link) this.fronts.delete(message.frontId);
    });
    older?.close('replaced', `front ${message.frontId} connected again`);
    this.accepted.add(link);
    link.start();
    this.emit('front', { frontId: message.frontId, hello: message, version, link, remoteAddress });
    link.resume();
  }

  private reject(link: ClusterLink, error: ClusterProtocolError): void {
    // The close handler reports it as 'rejected'.
    link.protocolError(error);
  }
}

function addressOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
