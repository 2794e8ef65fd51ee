import { EventEmitter } from 'node:events';
import type { ClusterCredentials } from './certificate.js';
import { ClusterProtocolError } from './errors.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, negotiateVersion } from './handshake.js';
import { ClusterLink, type ClusterLinkClosed, type ClusterLinkOptions } from './link.js';
import { CLUSTER_PROTOCOL_VERSION, MIN_CLUSTER_PROTOCOL_VERSION, type ClusterMessage, type HelloMessage, type WelcomeMessage } from './messages.js';
import { connectClusterTls, isTrustedPeer, untrustedCertificateError } from './tls.js';

/** What the front announces; the client adds the version range. */
export type ClusterHelloFields = Omit<HelloMessage, 'type' | 'minVersion' | 'maxVersion'>;

export interface ClusterBackoffOptions {
  /** First retry delay. Default 250 ms. */
  initialMs?: number;
  /** Cap. Default 10 s. */
  maxMs?: number;
}

export interface ClusterClientOptions {
  host: string;
  port: number;
  credentials: ClusterCredentials;
  /** Evaluated at each connection (capacity or addresses may have changed). */
  hello: ClusterHelloFields | (() => ClusterHelloFields);
  link?: ClusterLinkOptions;
  /** TLS handshake plus welcome must finish within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  backoff?: ClusterBackoffOptions;
  /** Aborting stops the client for good and closes its link. */
  signal?: AbortSignal;
  /** Source of jitter in [0, 1); tests may pin it. */
  random?: () => number;
}

export interface ClusterUp {
  welcome: WelcomeMessage;
  link: ClusterLink;
}

export interface ClusterDown {
  closed: ClusterLinkClosed;
  /** Delay before the next attempt. */
  retryInMs: number;
}

export interface ClusterConnectFailed {
  error: Error;
  attempt: number;
  retryInMs: number;
}

export interface ClusterClientEvents {
  /** The link is usable: welcome received, heartbeats running. Attach 'message' listeners to `link` here. */
  up: [ClusterUp];
  /** A link that was up closed; the client reconnects by itself. */
  down: [ClusterDown];
  /** An attempt failed before welcome (back unreachable, TLS refused, protocol...). */
  'connect-failed': [ClusterConnectFailed];
  /** stop() or the signal: no further attempts. */
  stopped: [];
}

/** The front's side: one link to the back, re-established with exponential backoff and jitter. */
export class ClusterClient extends EventEmitter<ClusterClientEvents> {
  private current: ClusterLink | undefined;
  private currentWelcome: WelcomeMessage | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly options: ClusterClientOptions) {
    super();
    options.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** The link while up. */
  get link(): ClusterLink | undefined {
    return this.currentWelcome ? this.current : undefined;
  }

  get welcome(): WelcomeMessage | undefined {
    return this.currentWelcome;
  }

  get isUp(): boolean {
    return this.currentWelcome !== undefined;
  }

  start(): void {
    if (this.running || this.stopped) return;
    if (this.options.signal?.aborted) {
      this.stop();
      return;
    }
    this.running = true;
    this.connectOnce();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.current?.close('local', 'front stopping');
    this.emit('stopped');
  }

  /** Resolves with the next 'up' (or at once if up); rejects when the client stops first. */
  waitUntilUp(): Promise<ClusterUp> {
    if (this.current && this.currentWelcome) return Promise.resolve({ link: this.current, welcome: this.currentWelcome });
    return new Promise((resolve, reject) => {
      const onUp = (up: ClusterUp) => {
        this.off('stopped', onStopped);
        resolve(up);
      };
      const onStopped = () => {
        this.off('up', onUp);
        reject(new Error('cluster client stopped'));
      };
      this.once('up', onUp);
      this.once('stopped', onStopped);
    });
  }

  private connectOnce(): void {
    const socket = connectClusterTls({ host: this.options.host, port: this.options.port, credentials: this.options.credentials });
    const link = new ClusterLink(socket, { ...this.options.link, label: `back@${this.options.host}:${this.options.port}` });
    this.current = link;
    const handshakeTimeoutMs = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const timer = setTimeout(
      () => link.protocolError(new ClusterProtocolError('handshake-timeout', `no welcome within ${handshakeTimeoutMs} ms`)),
      handshakeTimeoutMs,
    );
    timer.unref();
    socket.once('secureConnect', () => {
      // checkServerIdentity already pinned the certificate; this is the belt to those braces.
      if (!isTrustedPeer(socket, this.options.credentials)) link.protocolError(untrustedCertificateError(socket));
    });
    const hello = typeof this.options.hello === 'function' ? this.options.hello() : this.options.hello;
    link.send({ type: 'hello', minVersion: MIN_CLUSTER_PROTOCOL_VERSION, maxVersion: CLUSTER_PROTOCOL_VERSION, ...hello });

    const onFirstMessage = (message: ClusterMessage) => {
      link.off('message', onFirstMessage);
      clearTimeout(timer);
      if (message.type === 'error') return; // the link closes itself with 'remote-error'
      if (message.type !== 'welcome') {
        link.protocolError(new ClusterProtocolError('unexpected-message', `expected welcome, got ${message.type}`));
        return;
      }
      try {
        // The back must pick a version inside our range.
        negotiateVersion(message.version, message.version);
        link.configureHeartbeat(message.linkHeartbeatIntervalMs, message.linkDeadAfterMs);
      } catch (error) {
        link.protocolError(
          error instanceof ClusterProtocolError ? error : new ClusterProtocolError('malformed', `bad welcome: ${(error as Error).message}`),
        );
        return;
      }
      link.on('message', (later) => {
        if (later.type === 'hello' || later.type === 'welcome') {
          link.protocolError(new ClusterProtocolError('unexpected-message', `${later.type} after the handshake`));
        }
      });
      this.attempt = 0;
      this.currentWelcome = message;
      link.start();
      this.emit('up', { welcome: message, link });
    };
    link.on('message', onFirstMessage);
    link.once('close', (closed) => {
      clearTimeout(timer);
      const wasUp = this.currentWelcome !== undefined;
      this.current = undefined;
      this.currentWelcome = undefined;
      if (this.stopped) return;
      const retryInMs = this.nextDelay();
      if (wasUp) this.emit('down', { closed, retryInMs });
      else this.emit('connect-failed', { error: closed.error ?? new Error(closed.message), attempt: this.attempt, retryInMs });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.stopped) this.connectOnce();
      }, retryInMs);
    });
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so fronts do not reconnect in lockstep. */
  private nextDelay(): number {
    const initial = this.options.backoff?.initialMs ?? 250;
    const max = this.options.backoff?.maxMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const random = this.options.random ?? Math.random;
    return Math.round(base / 2 + (base / 2) * random());
  }
}
