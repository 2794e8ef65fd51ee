/**
 * The watched controller: keeps the onion service published for as long as it runs.
 *
 * connect -> authenticate -> publish (same key every time) -> watch the control connection. When Tor
 * restarts or the connection drops, the service is gone with it (no Detach), so the loop reconnects with
 * exponential backoff and publishes again; the address stays the same because the key does. Aborting the
 * signal stops the loop: DEL_ONION, QUIT, done.
 */
import { EventEmitter } from 'node:events';
import { authenticate, type TorAuthOptions } from './auth.js';
import { TorControlConnection, type ControlTarget } from './control-connection.js';
import { delOnion, publishOnionService, type OnionPortMapping, type PublishedOnionService } from './onion-service.js';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface OnionServicePublisherOptions {
  control: ControlTarget;
  auth: Omit<TorAuthOptions, 'signal' | 'commandTimeoutMs'>;
  keyFile: string;
  ports: readonly OnionPortMapping[];
  detach: boolean;
  maxStreams?: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  backoff: BackoffOptions;
}

export const DEFAULT_PUBLISHER_OPTIONS = {
  detach: false,
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 30_000,
  backoff: { initialMs: 250, maxMs: 30_000, factor: 2 } satisfies BackoffOptions,
};

export interface PublisherRetry {
  /** 1 for the first retry after a failure or a drop; reset after every successful publication. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: Error;
}

type PublisherEvents = {
  published: [PublishedOnionService];
  /** The control connection dropped after a publication (Tor restarted, crashed, or closed it). */
  disconnected: [Error];
  retry: [PublisherRetry];
};

export class OnionServicePublisher extends EventEmitter<PublisherEvents> {
  private readonly options: OnionServicePublisherOptions;
  private published: PublishedOnionService | undefined;
  private running = false;

  constructor(options: Partial<OnionServicePublisherOptions> & Pick<OnionServicePublisherOptions, 'control' | 'keyFile' | 'ports'>) {
    super();
    this.options = {
      ...DEFAULT_PUBLISHER_OPTIONS,
      auth: {},
      ...options,
      backoff: { ...DEFAULT_PUBLISHER_OPTIONS.backoff, ...options.backoff },
    };
  }

  /** The service as last published, undefined while (re)connecting. */
  get current(): PublishedOnionService | undefined {
    return this.published;
  }

  /**
   * Runs until `signal` aborts; resolves after the clean stop (DEL_ONION best effort). Never rejects for
   * Tor-side failures: those become 'retry' events.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error('OnionServicePublisher.run is already running');
    this.running = true;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        let conn: TorControlConnection | undefined;
        let failure: Error;
        try {
          conn = await TorControlConnection.connect(
            this.options.control,
            { connectTimeoutMs: this.options.connectTimeoutMs, commandTimeoutMs: this.options.commandTimeoutMs },
            signal,
          );
          const commandOptions = { signal, timeoutMs: this.options.commandTimeoutMs };
          await authenticate(conn, { ...this.options.auth, ...commandOptions, commandTimeoutMs: this.options.commandTimeoutMs });
          const published = await publishOnionService(
            conn,
            { keyFile: this.options.keyFile, ports: this.options.ports, detach: this.options.detach, maxStreams: this.options.maxStreams },
            commandOptions,
          );
          attempt = 0;
          this.published = published;
          this.emit('published', published);
          const dropped = await waitForCloseOrAbort(conn, signal);
          if (dropped === undefined) {
            await this.stopCleanly(conn, published);
            return;
          }
          this.published = undefined;
          this.emit('disconnected', dropped);
          failure = dropped;
        } catch (err) {
          conn?.close();
          this.published = undefined;
          if (signal.aborted) return;
          failure = err instanceof Error ? err : new Error(String(err));
        }
        attempt++;
        const { initialMs, maxMs, factor } = this.options.backoff;
        const delayMs = Math.min(maxMs, initialMs * factor ** (attempt - 1));
        this.emit('retry', { attempt, delayMs, error: failure });
        await sleep(delayMs, signal);
      }
    } finally {
      this.running = false;
    }
  }

  private async stopCleanly(conn: TorControlConnection, published: PublishedOnionService): Promise<void> {
    this.published = undefined;
    // The signal is aborted: these commands get their own short timeout instead.
    await delOnion(conn, published.serviceId, { timeoutMs: 5_000 }).catch(() => undefined);
    await conn.quit();
  }
}

/** Resolves with the close error when the connection drops, or undefined when the signal aborts first. */
function waitForCloseOrAbort(conn: TorControlConnection, signal: AbortSignal): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(undefined);
    if (conn.closed) return resolve(new Error('control connection closed'));
    const onClose = (error: Error | undefined): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(error ?? new Error('control connection closed'));
    };
    const onAbort = (): void => {
      conn.off('close', onClose);
      resolve(undefined);
    };
    conn.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
