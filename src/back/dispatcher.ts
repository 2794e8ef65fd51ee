import type { ConnectOutcome } from '../cluster/messages.js';
import type { FrontRegistry } from './front-registry.js';

export type { ConnectOutcome } from '../cluster/messages.js';

export interface ConnectAttempt {
  frontId: string;
  outcome: ConnectOutcome;
  message: string;
}

export interface ConnectResult {
  ok: boolean;
  outcome: ConnectOutcome | 'no-front';
  /** Every front tried, in order, with what it said. */
  attempts: ConnectAttempt[];
  message: string;
}

export class NoFrontAvailableError extends Error {
  override readonly name = 'NoFrontAvailableError';
  readonly code = 'no-front';
  constructor() {
    super('no front available: no healthy front is linked to the back');
  }
}

export interface DispatcherOptions {
  fronts: FrontRegistry;
  /** Sends the connect request to that front; false when the front is gone. */
  sendConnectRequest(frontId: string, requestId: number, nodeId: string, host: string, port: number): boolean;
  /** How long a front may take to answer (its connect timeout + handshake + init, plus slack). */
  answerTimeoutMs: number;
  /** Live peers per front as the back counts them (fresher than heartbeats). */
  livePeersOf?: (frontId: string) => number;
}

interface Pending {
  frontId: string;
  resolve(attempt: ConnectAttempt): void;
  timer: NodeJS.Timeout;
}

/**
 * Outgoing connections: to the least-loaded healthy front; a failed dial is retried once on another
 * front (a front whose network path is broken should not make a peer unreachable).
 */
export class Dispatcher {
  readonly #pending = new Map<number, Pending>();
  #nextRequestId = 1;
  constructor(private readonly options: DispatcherOptions) {}

  async connect(nodeId: string, host: string, port: number): Promise<ConnectResult> {
    const attempts: ConnectAttempt[] = [];
    const tried = new Set<string>();
    for (let round = 0; round < 2; round++) {
      const front = this.options.fronts.leastLoaded(tried, this.options.livePeersOf)[0];
      if (!front) break;
      tried.add(front.id);
      const attempt = await this.#ask(front.id, nodeId, host, port);
      attempts.push(attempt);
      if (attempt.outcome === 'connected') return { ok: true, outcome: 'connected', attempts, message: `connected through front ${front.id}` };
    }
    if (attempts.length === 0) return { ok: false, outcome: 'no-front', attempts, message: new NoFrontAvailableError().message };
    const last = attempts[attempts.length - 1]!;
    return { ok: false, outcome: last.outcome, attempts, message: attempts.map((a) => `${a.frontId}: ${a.outcome} (${a.message})`).join('; ') };
  }

  #ask(frontId: string, nodeId: string, host: string, port: number): Promise<ConnectAttempt> {
    const requestId = this.#nextRequestId++;
    return new Promise<ConnectAttempt>((resolve) => {
      const finish = (attempt: ConnectAttempt) => {
        clearTimeout(pending.timer);
        this.#pending.delete(requestId);
        this.options.fronts.dialEnded(frontId);
        resolve(attempt);
      };
      const pending: Pending = {
        frontId,
        resolve: finish,
        timer: setTimeout(() => finish({ frontId, outcome: 'timeout', message: 'the front did not answer in time' }), this.options.answerTimeoutMs),
      };
      this.#pending.set(requestId, pending);
      this.options.fronts.dialStarted(frontId);
      if (!this.options.sendConnectRequest(frontId, requestId, nodeId, host, port)) {
        finish({ frontId, outcome: 'failure', message: 'the front went away' });
      }
    });
  }

  /** A front answered a connect request. */
  onConnectResult(frontId: string, requestId: number, outcome: ConnectOutcome, message: string): void {
    const pending = this.#pending.get(requestId);
    if (pending && pending.frontId === frontId) pending.resolve({ frontId, outcome, message });
  }

  /** A front died: its pending dials fail now rather than at their timeout. */
  onFrontGone(frontId: string): void {
    for (const pending of [...this.#pending.values()]) {
      if (pending.frontId === frontId) pending.resolve({ frontId, outcome: 'failure', message: 'the front went away' });
    }
  }

  close(): void {
    for (const pending of [...this.#pending.values()]) pending.resolve({ frontId: pending.frontId, outcome: 'failure', message: 'the back is stopping' });
  }
}
