import { GossipFrontError } from './errors.js';
import { gossipKey, parseGossipItem, type GossipItem } from './gossip-item.js';
import type { GossipReplica } from './replica.js';

/**
 * Incoming gossip from this front's peers, on its way to the back. Each new item is forwarded ONCE with
 * every peer it came from: items wait `batchDelayMs` in a pending set so copies from several peers
 * arriving together share one forward; copies arriving after the forward (while the back decides) still
 * add their peer to the origins, which the rebroadcast rule needs (never send an item back to its origins).
 * Dropped before forwarding: what the replica already has (same or older timestamp), what is pending or in
 * flight (same bytes), what the back recently rejected. A newer node_announcement of a known node is news.
 * Peers whose items the back rejects too often are muted for a while: their gossip is ignored.
 */
export interface AggregatorOptions {
  readonly replica: GossipReplica;
  /** Sends one item to the back. `key` comes back in the decision. */
  readonly forward: (message: Uint8Array, origins: string[], key: string) => void;
  /** How long a new item waits to gather origins before it is forwarded. Default 50 ms. */
  readonly batchDelayMs?: number;
  /** Items pending + in flight beyond which new ones are dropped (the back is slow). Default 100,000. */
  readonly maxInFlight?: number;
  /** An item with no decision after this is forgotten (a later copy may be forwarded again). Default 60 s. */
  readonly inFlightTimeoutMs?: number;
  /** Rejections within `rejectWindowMs` that mute a peer. Default 20. */
  readonly muteThreshold?: number;
  /**
   * Which rejection reasons count against the peers an item came from. Default: every reason; the
   * front passes the back's peer-fault reasons (malformed, bad signature): stale or duplicate gossip
   * is normal and must not mute an honest peer.
   */
  readonly isPeerFault?: (reason: string | undefined) => boolean;
  readonly rejectWindowMs?: number;
  /** How long a muted peer's gossip is ignored. Default 10 min. */
  readonly muteDurationMs?: number;
  /** Keys of recently rejected items remembered (copies are dropped and count against their sender). Default 10,000. */
  readonly rejectedMemory?: number;
  readonly now?: () => number;
}

export type IntakeOutcome = 'pending' | 'merged' | 'known' | 'rejected-before' | 'muted' | 'malformed' | 'overloaded';

export interface InFlightItem {
  readonly key: string;
  readonly message: Uint8Array;
  readonly item: GossipItem;
  readonly origins: Set<string>;
  forwarded: boolean;
  deadline: number;
}

export interface AggregatorStats {
  received: number;
  forwarded: number;
  duplicatesKnown: number;
  duplicatesInFlight: number;
  accepted: number;
  rejected: number;
  timedOut: number;
  ignoredMuted: number;
  malformed: number;
  overloaded: number;
  inFlight: number;
  mutedPeers: number;
}

interface PeerRecord {
  rejections: number[];
  mutedUntil: number;
}

export interface DecisionResult {
  /** The item, with every origin seen; undefined when the key is unknown (timed out, or another front's). */
  readonly item: InFlightItem | undefined;
  readonly accepted: boolean;
}

export class GossipAggregator {
  readonly #o: AggregatorOptions;
  readonly #now: () => number;
  readonly #batchDelayMs: number;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #muteThreshold: number;
  readonly #rejectWindowMs: number;
  readonly #muteMs: number;
  readonly #rejectedMemory: number;
  /** Pending and forwarded items by key; insertion order = age, which the timeout sweep relies on. */
  readonly #inFlight = new Map<string, InFlightItem>();
  readonly #pending: InFlightItem[] = [];
  readonly #recentlyRejected = new Map<string, true>();
  readonly #peers = new Map<string, PeerRecord>();
  #flushTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  readonly #stats = { received: 0, forwarded: 0, duplicatesKnown: 0, duplicatesInFlight: 0, accepted: 0, rejected: 0, timedOut: 0, ignoredMuted: 0, malformed: 0, overloaded: 0 };

  constructor(options: AggregatorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#batchDelayMs = options.batchDelayMs ?? 50;
    this.#maxInFlight = options.maxInFlight ?? 100_000;
    this.#timeoutMs = options.inFlightTimeoutMs ?? 60_000;
    this.#muteThreshold = options.muteThreshold ?? 20;
    this.#rejectWindowMs = options.rejectWindowMs ?? 60_000;
    this.#muteMs = options.muteDurationMs ?? 10 * 60_000;
    this.#rejectedMemory = options.rejectedMemory ?? 10_000;
  }

  /** One channel_announcement / node_announcement / channel_update from peer `peerId`. */
  receive(peerId: string, message: Uint8Array): IntakeOutcome {
    this.#stats.received++;
    if (this.isMuted(peerId)) {
      this.#stats.ignoredMuted++;
      return 'muted';
    }
    let item: GossipItem;
    try {
      item = parseGossipItem(message);
    } catch (error) {
      if (!(error instanceof GossipFrontError)) throw error;
      this.#stats.malformed++;
      this.#countRejection(peerId);
      return 'malformed';
    }
    if (!this.#o.replica.isNewer(item)) {
      this.#stats.duplicatesKnown++;
      return 'known';
    }
    const key = gossipKey(message, item);
    const existing = this.#inFlight.get(key);
    if (existing) {
      existing.origins.add(peerId);
      this.#stats.duplicatesInFlight++;
      return 'merged';
    }
    if (this.#recentlyRejected.has(key)) {
      this.#countRejection(peerId);
      return 'rejected-before';
    }
    this.#sweep();
    if (this.#inFlight.size >= this.#maxInFlight) {
      this.#stats.overloaded++;
      return 'overloaded';
    }
    const entry: InFlightItem = { key, message: message.slice(), item, origins: new Set([peerId]), forwarded: false, deadline: this.#now() + this.#batchDelayMs + this.#timeoutMs };
    this.#inFlight.set(key, entry);
    this.#pending.push(entry);
    this.#armFlush();
    return 'pending';
  }

  /** Forwards what is pending now (normally done by a timer after `batchDelayMs`). */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const entry of this.#pending.splice(0)) {
      if (this.#inFlight.get(entry.key) !== entry) continue; // decided or timed out meanwhile
      entry.forwarded = true;
      this.#stats.forwarded++;
      this.#o.forward(entry.message, [...entry.origins], entry.key);
    }
  }

  /**
   * The back's decision on an item this front forwarded. Rejected: each origin peer gets a strike. Returns the
   * item (with all its origins) so the caller can put an accepted one into the replica and the rebroadcast.
   */
  onDecision(key: string, accepted: boolean, reason?: string): DecisionResult {
    const entry = this.#inFlight.get(key);
    if (!entry) return { item: undefined, accepted };
    this.#inFlight.delete(key);
    if (accepted) {
      this.#stats.accepted++;
    } else {
      this.#stats.rejected++;
      this.#rememberRejected(key);
      if (this.#o.isPeerFault?.(reason) ?? true) for (const peer of entry.origins) this.#countRejection(peer);
    }
    return { item: entry, accepted };
  }

  /** An item in flight here (pending or forwarded), by key. */
  inFlight(key: string): InFlightItem | undefined {
    return this.#inFlight.get(key);
  }

  isMuted(peerId: string): boolean {
    const peer = this.#peers.get(peerId);
    if (!peer || peer.mutedUntil === 0) return false;
    if (this.#now() < peer.mutedUntil) return true;
    peer.mutedUntil = 0;
    return false;
  }

  /** Forget a disconnected peer's strikes, unless it is muted (reconnecting must not unmute). */
  forgetPeer(peerId: string): void {
    if (!this.isMuted(peerId)) this.#peers.delete(peerId);
  }

  stats(): AggregatorStats {
    let muted = 0;
    for (const id of this.#peers.keys()) if (this.isMuted(id)) muted++;
    return { ...this.#stats, inFlight: this.#inFlight.size, mutedPeers: muted };
  }

  close(): void {
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#sweepTimer);
    this.#flushTimer = undefined;
    this.#pending.length = 0;
    this.#inFlight.clear();
  }

  #armFlush(): void {
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.flush(), this.#batchDelayMs);
      this.#flushTimer.unref();
    }
    this.#armSweep();
  }

  /** A sweep runs while anything is in flight, so forgotten decisions do not hold memory. */
  #armSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#sweep();
      if (this.#inFlight.size > 0) this.#armSweep();
    }, Math.max(1000, this.#timeoutMs / 4));
    this.#sweepTimer.unref();
  }

  /** Drops forwarded items past their deadline (oldest first: the Map keeps insertion order). */
  #sweep(): void {
    const now = this.#now();
    for (const entry of this.#inFlight.values()) {
      if (entry.deadline > now) break;
      if (!entry.forwarded) continue;
      this.#inFlight.delete(entry.key);
      this.#stats.timedOut++;
    }
  }

  #rememberRejected(key: string): void {
    this.#recentlyRejected.set(key, true);
    if (this.#recentlyRejected.size > this.#rejectedMemory) {
      const oldest = this.#recentlyRejected.keys().next().value;
      if (oldest !== undefined) this.#recentlyRejected.delete(oldest);
    }
  }

  #countRejection(peerId: string): void {
    const now = this.#now();
    let peer = this.#peers.get(peerId);
    if (!peer) {
      peer = { rejections: [], mutedUntil: 0 };
      this.#peers.set(peerId, peer);
    }
    peer.rejections.push(now);
    while (peer.rejections.length > 0 && peer.rejections[0]! <= now - this.#rejectWindowMs) peer.rejections.shift();
    if (peer.rejections.length >= this.#muteThreshold) {
      peer.mutedUntil = now + this.#muteMs;
      peer.rejections.length = 0;
    }
  }
}
