/**
 * The `lncluster tor` controller: keeps the onion service published (OnionServicePublisher: same key,
 * reconnect with backoff when Tor restarts) and keeps the back informed of the address.
 *
 * Reporting: at once after every publication, then again every `reportIntervalMs` so a back that
 * restarted (it keeps the address in memory only) learns it within one interval. A Tor restart does not
 * withdraw the address: the service comes back under the same key within seconds, and withdrawing would
 * churn the node_announcement. A clean stop withdraws it (without Detach, Tor drops the service with us).
 */
import { EventEmitter } from 'node:events';
import { OnionServicePublisher, type OnionServicePublisherOptions, type PublisherRetry } from './onion-publisher.js';
import type { PublishedOnionService } from './onion-service.js';

export type TorControllerState = 'connecting' | 'published' | 'retrying' | 'stopped';

export interface TorControllerOptions {
  publisher: Partial<OnionServicePublisherOptions> & Pick<OnionServicePublisherOptions, 'control' | 'keyFile' | 'ports'>;
  /** Tells the back the address (null: withdrawn). Rejections are logged and retried at the next interval. */
  report: (onionAddress: string | null) => Promise<void>;
  reportIntervalMs: number;
}

export const DEFAULT_REPORT_INTERVAL_MS = 15_000;

export interface TorControllerStatus {
  readonly state: TorControllerState;
  readonly onionAddress: string | undefined;
  readonly publications: number;
  readonly lastError: string | undefined;
  readonly reportedToBack: boolean;
}

type ControllerEvents = {
  state: [TorControllerState];
  published: [PublishedOnionService];
  retry: [PublisherRetry];
  disconnected: [Error];
  /** A report to the back succeeded (address or null). */
  reported: [string | null];
  'report-failed': [Error];
};

export class TorController extends EventEmitter<ControllerEvents> {
  readonly publisher: OnionServicePublisher;
  #state: TorControllerState = 'connecting';
  /** The address as last published; kept through a Tor restart (same key, same address). */
  #onionAddress: string | undefined;
  #publications = 0;
  #lastError: string | undefined;
  #reportedToBack = false;
  #reportChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: TorControllerOptions) {
    super();
    this.publisher = new OnionServicePublisher(options.publisher);
    this.publisher.on('published', (service) => {
      this.#onionAddress = service.onionAddress;
      this.#publications++;
      this.#lastError = undefined;
      this.#setState('published');
      this.emit('published', service);
      void this.reportNow();
    });
    this.publisher.on('disconnected', (error) => {
      this.#lastError = error.message;
      this.#setState('retrying');
      this.emit('disconnected', error);
    });
    this.publisher.on('retry', (retry) => {
      this.#lastError = retry.error.message;
      if (this.#state !== 'stopped') this.#setState('retrying');
      this.emit('retry', retry);
    });
  }

  get status(): TorControllerStatus {
    return {
      state: this.#state,
      onionAddress: this.#onionAddress,
      publications: this.#publications,
      lastError: this.#lastError,
      reportedToBack: this.#reportedToBack,
    };
  }

  /** Runs until `signal` aborts, then withdraws the address from the back (best effort). */
  async run(signal: AbortSignal): Promise<void> {
    const timer = setInterval(() => {
      if (this.#onionAddress !== undefined) void this.reportNow();
    }, this.options.reportIntervalMs);
    timer.unref();
    try {
      await this.publisher.run(signal);
    } finally {
      clearInterval(timer);
      this.#setState('stopped');
      await this.#enqueueReport(null);
    }
  }

  /** Reports the current address now (serialized with other reports); resolves whether or not it worked. */
  reportNow(): Promise<void> {
    if (this.#onionAddress === undefined) return this.#reportChain;
    return this.#enqueueReport(this.#onionAddress);
  }

  #enqueueReport(address: string | null): Promise<void> {
    this.#reportChain = this.#reportChain.then(async () => {
      try {
        await this.options.report(address);
        this.#reportedToBack = address !== null;
        this.emit('reported', address);
      } catch (err) {
        this.#reportedToBack = false;
        this.emit('report-failed', err instanceof Error ? err : new Error(String(err)));
      }
    });
    return this.#reportChain;
  }

  #setState(state: TorControllerState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}
