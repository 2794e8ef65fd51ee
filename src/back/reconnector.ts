/**
 * Reconnection of persistent peers (those with channels, or marked by the operator): a random first
 * delay (so a restarted back does not dial everyone at once), then exponential backoff capped at
 * one hour, as eclair does. Reset when the peer connects.
 */
export interface ReconnectorOptions {
  connect(nodeId: string): Promise<boolean>;
  firstDelayMaxMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

interface State {
  attempt: number;
  timer?: NodeJS.Timeout;
}

export const RECONNECT_DEFAULTS = { firstDelayMaxMs: 5_000, baseDelayMs: 10_000, maxDelayMs: 3_600_000 } as const;

export class Reconnector {
  readonly #peers = new Map<string, State>();
  readonly #first: number;
  readonly #base: number;
  readonly #max: number;
  readonly #random: () => number;
  #closed = false;

  constructor(private readonly options: ReconnectorOptions) {
    this.#first = options.firstDelayMaxMs ?? RECONNECT_DEFAULTS.firstDelayMaxMs;
    this.#base = options.baseDelayMs ?? RECONNECT_DEFAULTS.baseDelayMs;
    this.#max = options.maxDelayMs ?? RECONNECT_DEFAULTS.maxDelayMs;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before attempt n (0-based). */
  delayFor(attempt: number): number {
    if (attempt === 0) return Math.floor(this.#random() * this.#first);
    return Math.min(this.#max, this.#base * 2 ** (attempt - 1));
  }

  /** The peer went down (or the back started): schedule reconnection. */
  peerDown(nodeId: string): void {
    if (this.#closed) return;
    const state = this.#peers.get(nodeId) ?? { attempt: 0 };
    this.#peers.set(nodeId, state);
    this.#schedule(nodeId, state);
  }

  peerUp(nodeId: string): void {
    const state = this.#peers.get(nodeId);
    if (state?.timer) clearTimeout(state.timer);
    this.#peers.delete(nodeId);
  }

  forget(nodeId: string): void {
    this.peerUp(nodeId);
  }

  pending(): string[] {
    return [...this.#peers.keys()];
  }

  #schedule(nodeId: string, state: State): void {
    if (state.timer) return;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.attempt++;
      void this.options.connect(nodeId).then(
        (ok) => {
          if (!ok && this.#peers.get(nodeId) === state) this.#schedule(nodeId, state);
        },
        () => {
          if (this.#peers.get(nodeId) === state) this.#schedule(nodeId, state);
        },
      );
    }, this.delayFor(state.attempt));
    state.timer.unref();
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#peers.values()) if (state.timer) clearTimeout(state.timer);
    this.#peers.clear();
  }
}
