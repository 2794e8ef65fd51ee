/** Small timing helpers shared by the discovery implementations. */
import { DiscoveryError } from './errors.js';

/** Resolves after `ms`, or rejects with DISCOVERY_ABORTED as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts (never rejects). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export function abortedError(): DiscoveryError {
  return new DiscoveryError('DISCOVERY_ABORTED', 'operation aborted');
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Exponential backoff with full jitter in [delay/2, delay], so many clients do not retry in step. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  next(): number {
    const delay = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(delay / 2 + (Math.random() * delay) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Token bucket (burst 2 by default) for blocking-query loops, as Consul's documentation recommends:
 * in the happy case queries go out immediately; when results churn fast the loop degrades into polling
 * at one query per `refillMs` instead of spinning.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly refillMs: number,
    private readonly burst = 2,
  ) {
    this.tokens = burst;
  }

  async take(signal?: AbortSignal): Promise<void> {
    this.refill();
    if (this.tokens < 1) {
      await sleep(Math.ceil((1 - this.tokens) * this.refillMs), signal);
      this.refill();
    }
    this.tokens = Math.max(0, this.tokens - 1);
  }

  private refill(): void {
    const now = Date.now();
    if (this.refillMs <= 0) {
      this.tokens = this.burst;
    } else {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.refillMs);
    }
    this.last = now;
  }
}
