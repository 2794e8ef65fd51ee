import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { packSignatureJobs, type SignatureJob } from './signature-jobs.js';

export class SignaturePoolError extends Error {
  override readonly name = 'SignaturePoolError';
  constructor(
    readonly code: 'closed' | 'worker-failed' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * One worker per core by default (the main thread mostly waits for verdicts during a big ingest); none on
 * a single core, where a thread would only add transfer costs.
 */
export function defaultSignatureWorkers(): number {
  const cores = availableParallelism();
  return cores >= 2 ? Math.min(8, cores) : 0;
}

interface Pending {
  readonly resolve: (verdicts: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

type WorkerReply = { type: 'ready' } | { type: 'unavailable' } | { type: 'verdicts'; id: number; verdicts: Uint8Array };

/**
 * A small pool of worker threads verifying gossip signatures (libsecp256k1 is CPU-bound and blocks the
 * thread that calls it). Workers start on first use, do not keep the process alive while idle, and a
 * failed worker fails only its own outstanding batches: callers verify those on their own thread.
 */
export class SignaturePool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  #nextId = 0;
  #failure: SignaturePoolError | undefined;

  constructor(size: number = defaultSignatureWorkers()) {
    this.size = Math.max(1, Math.floor(size));
  }

  /** False after close() or once a worker failed (the caller should verify on its own thread). */
  get usable(): boolean {
    return this.#failure === undefined;
  }

  /** Verifies the jobs in a worker; resolves with one verdict per job (see VERDICT_OK). */
  verify(jobs: readonly SignatureJob[]): Promise<Uint8Array> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (jobs.length === 0) return Promise.resolve(new Uint8Array(0));
    const buffer = packSignatureJobs(jobs);
    const slot = this.#leastBusy();
    const id = this.#nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, buffer }, [buffer]);
    });
  }

  /** Terminates the workers; outstanding batches are rejected. */
  async close(): Promise<void> {
    this.#fail(new SignaturePoolError('closed', 'signature pool closed'));
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #leastBusy(): Slot {
    let best: Slot | undefined;
    for (const slot of this.#slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    if (best && (best.pending.size === 0 || this.#slots.length >= this.size)) return best;
    return this.#start();
  }

  #start(): Slot {
    const worker = new Worker(new URL('./signature-worker.js', import.meta.url));
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'unavailable') this.#fail(new SignaturePoolError('unavailable', 'libsecp256k1 did not load in a worker thread'));
      if (reply.type !== 'verdicts') return;
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      pending.resolve(reply.verdicts);
    });
    const failed = (why: string) => this.#fail(new SignaturePoolError('worker-failed', why));
    worker.on('error', (error) => failed(`signature worker failed: ${error.message}`));
    worker.on('exit', (code) => failed(`signature worker exited (code ${code})`));
    this.#slots.push(slot);
    return slot;
  }

  #fail(error: SignaturePoolError): void {
    this.#failure ??= error;
    for (const slot of this.#slots) {
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
      slot.worker.unref();
    }
  }
}
