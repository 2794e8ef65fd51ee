/**
 * Paced, pull-based sending to one peer. Every bulk transfer (a gossip dump, a rebroadcast round, the
 * replies to a query) is a lazy source of messages; the pump pulls one message at a time, sends while the
 * connection accepts (`send()` true), waits for 'drain' when it does not, and yields to the event loop every
 * `chunkMessages` so one peer's dump cannot starve the others or the processing of incoming messages
 * (pings are answered by the session in between). Memory per peer: the socket's buffer plus one message.
 */
export interface DrainEmitter {
  once(event: 'drain', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** What the gossip layer needs from a peer session (PeerSession fits). */
export interface GossipSession {
  /** Hex node id: the identity used for origins and muting. */
  readonly nodeIdHex: string;
  readonly closed: boolean;
  /** Sends one whole message; false when the socket is congested (wait for 'drain'). */
  send(message: Uint8Array): boolean;
  readonly connection: DrainEmitter;
  /**
   * Optional write batching (socket.cork/uncork underneath): when offered, each chunk of messages leaves in
   * one write instead of one syscall per message, which is most of the cost of a dump after encryption.
   */
  cork?(): void;
  uncork?(): void;
}

/** Replies to queries go before bulk (dumps, rebroadcasts): a query answered mid-dump is not stuck behind it. */
export type SendLane = 'reply' | 'bulk';

export type JobOutcome = 'complete' | 'cancelled' | 'closed';

export interface SendJob {
  readonly tag: string;
  /** Settles when the source is exhausted, cancelled, or the session closed. */
  readonly done: Promise<JobOutcome>;
  cancel(): void;
}

export interface PacedSenderOptions {
  /** Messages sent per event-loop turn before yielding. Default 64. */
  readonly chunkMessages?: number;
}

export type PacedSenderState = 'idle' | 'sending' | 'waiting-drain' | 'closed';

interface QueuedJob extends SendJob {
  readonly source: Iterator<Uint8Array>;
  settle(outcome: JobOutcome): void;
  settled: boolean;
}

export class PacedSender {
  readonly #session: GossipSession;
  readonly #chunk: number;
  readonly #lanes: Record<SendLane, QueuedJob[]> = { reply: [], bulk: [] };
  #state: PacedSenderState = 'idle';
  #scheduled = false;
  messagesSent = 0;
  bytesSent = 0;

  constructor(session: GossipSession, options: PacedSenderOptions = {}) {
    this.#session = session;
    this.#chunk = Math.max(1, options.chunkMessages ?? 64);
  }

  get state(): PacedSenderState {
    return this.#state;
  }

  /** Jobs queued or running in a lane. */
  pending(lane?: SendLane): number {
    return lane ? this.#lanes[lane].length : this.#lanes.reply.length + this.#lanes.bulk.length;
  }

  /** Queues a lazy source; it is pulled only as fast as the peer reads. */
  enqueue(source: Iterable<Uint8Array>, lane: SendLane, tag: string = lane): SendJob {
    let settle!: (outcome: JobOutcome) => void;
    const done = new Promise<JobOutcome>((resolve) => (settle = resolve));
    const job: QueuedJob = {
      tag,
      done,
      source: source[Symbol.iterator](),
      settled: false,
      settle: (outcome) => {
        if (job.settled) return;
        job.settled = true;
        try {
          job.source.return?.();
        } catch {
          // a source's cleanup failing must not break the pump
        }
        settle(outcome);
      },
      cancel: () => {
        const queue = this.#lanes[lane];
        const at = queue.indexOf(job);
        if (at >= 0) queue.splice(at, 1);
        job.settle('cancelled');
      },
    };
    if (this.#state === 'closed' || this.#session.closed) {
      job.settle('closed');
      return job;
    }
    this.#lanes[lane].push(job);
    if (this.#state === 'idle') this.#schedule();
    return job;
  }

  /** Cancels every job with this tag (e.g. a dump replaced by a newer gossip_timestamp_filter). */
  cancelTagged(tag: string): void {
    for (const lane of ['reply', 'bulk'] as const) for (const job of [...this.#lanes[lane]]) if (job.tag === tag) job.cancel();
  }

  /** Stops for good: every job settles 'closed'. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const lane of ['reply', 'bulk'] as const) for (const job of this.#lanes[lane].splice(0)) job.settle('closed');
  }

  #schedule(): void {
    if (this.#scheduled || this.#state === 'closed') return;
    this.#scheduled = true;
    this.#state = 'sending';
    setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    this.#scheduled = false;
    if (this.#state === 'closed') return;
    const session = this.#session;
    session.cork?.();
    try {
      this.#sendChunk();
    } finally {
      session.uncork?.();
    }
  };

  #sendChunk(): void {
    for (let budget = this.#chunk; budget > 0; budget--) {
      if (this.#session.closed) {
        this.close();
        return;
      }
      const job = this.#lanes.reply[0] ?? this.#lanes.bulk[0];
      if (!job) {
        this.#state = 'idle';
        return;
      }
      let next: IteratorResult<Uint8Array>;
      try {
        next = job.source.next();
      } catch {
        // A failing source ends its job only; the rest of the queue goes on.
        next = { done: true, value: undefined };
      }
      if (next.done) {
        this.#finish(job);
        budget++; // finishing a job sent nothing
        continue;
      }
      this.messagesSent++;
      this.bytesSent += next.value.length;
      if (!this.#session.send(next.value)) {
        this.#waitDrain();
        return;
      }
    }
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  #finish(job: QueuedJob): void {
    for (const lane of ['reply', 'bulk'] as const) {
      const at = this.#lanes[lane].indexOf(job);
      if (at >= 0) this.#lanes[lane].splice(at, 1);
    }
    job.settle('complete');
  }

  #waitDrain(): void {
    this.#state = 'waiting-drain';
    const connection = this.#session.connection;
    const resume = (): void => {
      connection.off('drain', resume);
      connection.off('close', resume);
      if (this.#session.closed) this.close();
      else if (this.#state === 'waiting-drain') this.#schedule();
    };
    connection.once('drain', resume);
    connection.once('close', resume);
  }
}
