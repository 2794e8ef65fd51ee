import type { GossipItem } from './gossip-item.js';
import type { PacedSender, SendJob } from './paced-sender.js';
import { inWindow, type GossipReplica, type TimestampWindow } from './replica.js';

/**
 * Staggered rebroadcast (BOLT 7 "Rebroadcasting"): accepted gossip goes into one shared queue; every
 * `intervalMs` each peer, at its own random offset within the interval, gets what was queued since its last
 * round, never an item that came from that peer, only within its gossip_timestamp_filter, and nothing at
 * all before it sent a filter (BOLT 7: no relaying until gossip_timestamp_filter). Items superseded by a
 * newer one in the replica are skipped. Sending goes through the peer's PacedSender (pull-based).
 *
 * A channel_announcement is only sent with an update (BOLT 7: never without one; its timestamp is the
 * update's): an announcement accepted before any of its updates waits and is queued right before its
 * first update.
 */
export interface RebroadcasterOptions {
  readonly replica: GossipReplica;
  /** Default 60 s. */
  readonly intervalMs?: number;
  /** [0, 1): picks each peer's offset within the interval. Default Math.random. */
  readonly random?: () => number;
  /** Queue length beyond which the oldest entries go (a peer that lags that far just misses them). Default 200,000. */
  readonly maxQueued?: number;
  /** Announcements waiting for their first update. Default 10,000 (oldest dropped). */
  readonly maxDeferredAnnouncements?: number;
}

export interface RebroadcastPeer {
  readonly id: string;
  readonly sender: PacedSender;
  /** The peer's gossip_timestamp_filter, undefined until it sent one. */
  filter(): TimestampWindow | undefined;
}

interface QueueEntry {
  readonly seq: number;
  readonly message: Uint8Array;
  readonly item: GossipItem;
  /** For a channel_announcement: the timestamp of the update it goes with. */
  readonly timestamp: number;
  readonly origins: ReadonlySet<string> | undefined;
}

interface PeerState {
  readonly peer: RebroadcastPeer;
  /** Last seq this peer has been offered. */
  cursor: number;
  timer: NodeJS.Timeout | undefined;
  job: SendJob | undefined;
  jobDone: boolean;
  rounds: number;
  sent: number;
}

export interface RebroadcasterStats {
  queued: number;
  deferredAnnouncements: number;
  peers: number;
  rounds: number;
  itemsOffered: number;
}

const EMPTY = new Set<string>();

export class Rebroadcaster {
  readonly #replica: GossipReplica;
  readonly #intervalMs: number;
  readonly #random: () => number;
  readonly #maxQueued: number;
  readonly #maxDeferred: number;
  #queue: QueueEntry[] = [];
  /** seq of the next entry; entries hold seqs [nextSeq - queue.length, nextSeq). */
  #nextSeq = 1;
  readonly #deferred = new Map<bigint, { message: Uint8Array; item: GossipItem; origins: ReadonlySet<string> | undefined }>();
  readonly #peers = new Map<string, PeerState>();
  #rounds = 0;
  #offered = 0;
  #closed = false;

  constructor(options: RebroadcasterOptions) {
    this.#replica = options.replica;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#random = options.random ?? Math.random;
    this.#maxQueued = options.maxQueued ?? 200_000;
    this.#maxDeferred = options.maxDeferredAnnouncements ?? 10_000;
  }

  /** Queues an item the replica just accepted, with the peers it came from (empty: from elsewhere). */
  enqueue(message: Uint8Array, item: GossipItem, origins?: Iterable<string>): void {
    if (this.#closed) return;
    const originSet = origins ? new Set(origins) : undefined;
    if (item.kind === 'channel_announcement') {
      const channel = this.#replica.channel(item.scid);
      if (!channel?.hasUpdate) {
        this.#deferred.set(item.scid, { message, item, origins: originSet });
        if (this.#deferred.size > this.#maxDeferred) this.#deferred.delete(this.#deferred.keys().next().value!);
        return;
      }
      this.#push(message, item, Math.max(channel.timestamp1, channel.timestamp2), originSet);
      return;
    }
    if (item.kind === 'channel_update') {
      const announcement = this.#deferred.get(item.scid);
      if (announcement) {
        this.#deferred.delete(item.scid);
        this.#push(announcement.message, announcement.item, item.timestamp, announcement.origins);
      }
    }
    this.#push(message, item, item.timestamp, originSet);
  }

  addPeer(peer: RebroadcastPeer): void {
    if (this.#closed || this.#peers.has(peer.id)) return;
    const state: PeerState = { peer, cursor: this.#nextSeq - 1, timer: undefined, job: undefined, jobDone: true, rounds: 0, sent: 0 };
    this.#peers.set(peer.id, state);
    this.#schedule(state, this.#random() * this.#intervalMs);
  }

  removePeer(id: string): void {
    const state = this.#peers.get(id);
    if (!state) return;
    clearTimeout(state.timer);
    this.#peers.delete(id);
    this.#trim();
  }

  /**
   * The peer (re)set its filter: it is getting a dump of the replica as it is now, so its rebroadcast starts
   * from here.
   */
  onFilter(id: string): void {
    const state = this.#peers.get(id);
    if (state) state.cursor = this.#nextSeq - 1;
  }

  /** Runs one peer's round now (tests, or an operator's "flush"). Resolves when its sending is done. */
  async flushPeer(id: string): Promise<void> {
    const state = this.#peers.get(id);
    if (!state) return;
    this.#round(state);
    await state.job?.done;
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.#peers.keys()].map((id) => this.flushPeer(id)));
  }

  stats(): RebroadcasterStats {
    return { queued: this.#queue.length, deferredAnnouncements: this.#deferred.size, peers: this.#peers.size, rounds: this.#rounds, itemsOffered: this.#offered };
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#peers.values()) clearTimeout(state.timer);
    this.#peers.clear();
    this.#queue = [];
    this.#deferred.clear();
  }

  #push(message: Uint8Array, item: GossipItem, timestamp: number, origins: ReadonlySet<string> | undefined): void {
    this.#queue.push({ seq: this.#nextSeq++, message, item, timestamp, origins });
    if (this.#queue.length > this.#maxQueued) this.#queue.splice(0, this.#queue.length - this.#maxQueued);
  }

  #schedule(state: PeerState, delayMs: number): void {
    state.timer = setTimeout(() => {
      if (this.#peers.get(state.peer.id) !== state) return;
      this.#round(state);
      this.#schedule(state, this.#intervalMs);
    }, delayMs);
    state.timer.unref();
  }

  #round(state: PeerState): void {
    this.#rounds++;
    state.rounds++;
    const filter = state.peer.filter();
    const tail = this.#nextSeq - 1;
    if (filter === undefined) {
      state.cursor = tail; // nothing may go to it yet; a filter brings a dump of the replica anyway
      this.#trim();
      return;
    }
    // A slow peer still busy with its previous round keeps its cursor: it gets all of it next time.
    if (!state.jobDone) return;
    const head = this.#nextSeq - this.#queue.length;
    const from = Math.max(0, state.cursor + 1 - head);
    const entries = this.#queue.slice(from);
    state.cursor = tail;
    this.#trim();
    if (entries.length === 0) return;
    state.jobDone = false;
    const job = state.peer.sender.enqueue(this.#itemsFor(state, entries, filter), 'bulk', 'rebroadcast');
    state.job = job;
    void job.done.then(() => {
      state.jobDone = true;
    });
  }

  *#itemsFor(state: PeerState, entries: QueueEntry[], window: TimestampWindow): Generator<Uint8Array, void, undefined> {
    const id = state.peer.id;
    for (const entry of entries) {
      if ((entry.origins ?? EMPTY).has(id)) continue;
      if (!inWindow(entry.timestamp, window)) continue;
      if (this.#superseded(entry)) continue;
      this.#offered++;
      state.sent++;
      yield entry.message;
    }
  }

  /** True when the replica holds something newer (that one is in the queue too) or dropped the item. */
  #superseded(entry: QueueEntry): boolean {
    const item = entry.item;
    if (item.kind === 'node_announcement') {
      const node = this.#replica.node(item.nodeId);
      return node === undefined || node.timestamp > item.timestamp;
    }
    const channel = this.#replica.channel(item.scid);
    if (channel === undefined) return true;
    return item.kind === 'channel_update' && channel.timestamp(item.direction) > item.timestamp;
  }

  /** Drops entries every peer has been offered. */
  #trim(): void {
    let min = this.#nextSeq - 1;
    for (const state of this.#peers.values()) min = Math.min(min, state.cursor);
    const head = this.#nextSeq - this.#queue.length;
    const drop = min + 1 - head;
    if (drop > 0) this.#queue.splice(0, drop);
  }
}
