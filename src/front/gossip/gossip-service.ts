import { MESSAGE_TYPES } from '../../lightning/wire/types.js';
import { GossipAggregator, type AggregatorOptions, type AggregatorStats, type IntakeOutcome } from './aggregator.js';
import { GossipFrontError } from './errors.js';
import { gossipKey, isAnnouncementType, parseGossipItem, type GossipItem } from './gossip-item.js';
import { PacedSender, type GossipSession, type PacedSenderOptions } from './paced-sender.js';
import { QueryResponder, isQueryType, type QueryResponderStats } from './query-responder.js';
import { Rebroadcaster, type RebroadcasterStats } from './rebroadcaster.js';
import { GossipReplica, type ApplyResult, type ReplicaStats } from './replica.js';

/**
 * A front's gossip, tied together: the replica the back feeds, one QueryResponder and PacedSender per peer,
 * the aggregator for incoming gossip and the staggered rebroadcaster. No cluster dependency: the front
 * wires `forward` to the link and calls `applySnapshot` / `applyFromBack` with what the back sends.
 */
export interface GossipServiceOptions {
  readonly chainHash: Uint8Array;
  /** New gossip for the back: once per item, with every peer (hex node id) it came from so far. */
  readonly forward: (message: Uint8Array, origins: string[], key: string) => void;
  /** reply_channel_range / reply_short_channel_ids_end from a peer: answers to the back's own sync queries. */
  readonly onSyncReply?: (session: GossipSession, message: Uint8Array) => void;
  /** A peer broke a gossip rule (malformed query...). Default: nothing (counted in stats). */
  readonly onViolation?: (session: GossipSession, reason: string) => void;
  /** Default: a new replica for `chainHash`. */
  readonly replica?: GossipReplica;
  readonly rebroadcastIntervalMs?: number;
  readonly random?: () => number;
  readonly queriesPerSecond?: number;
  readonly queryBurst?: number;
  readonly maxQueuedQueries?: number;
  readonly maxIdsPerReply?: number;
  readonly sender?: PacedSenderOptions;
  readonly aggregator?: Omit<AggregatorOptions, 'replica' | 'forward'>;
  readonly now?: () => number;
}

export interface GossipDecision {
  readonly key: string;
  readonly accepted: boolean;
  readonly reason?: string;
}

export interface GossipServiceStats {
  peers: number;
  replica: ReplicaStats;
  aggregator: AggregatorStats;
  rebroadcast: RebroadcasterStats;
  queries: QueryResponderStats;
  messagesSent: number;
  bytesSent: number;
  syncReplies: number;
  violations: number;
}

interface PeerEntry {
  readonly session: GossipSession;
  readonly sender: PacedSender;
  readonly responder: QueryResponder;
}

const SYNC_REPLY_TYPES = new Set<number>([MESSAGE_TYPES.reply_channel_range, MESSAGE_TYPES.reply_short_channel_ids_end]);

export class GossipService {
  readonly replica: GossipReplica;
  readonly aggregator: GossipAggregator;
  readonly rebroadcaster: Rebroadcaster;
  readonly #o: GossipServiceOptions;
  readonly #peers = new Map<GossipSession, PeerEntry>();
  /** Totals of peers that left, so stats stay monotonic. */
  readonly #gone = { messagesSent: 0, bytesSent: 0, queries: emptyQueryStats() };
  #syncReplies = 0;
  #violations = 0;

  constructor(options: GossipServiceOptions) {
    this.#o = options;
    this.replica = options.replica ?? new GossipReplica({ chainHash: options.chainHash });
    this.aggregator = new GossipAggregator({ ...options.aggregator, ...(options.now ? { now: options.now } : {}), replica: this.replica, forward: options.forward });
    this.rebroadcaster = new Rebroadcaster({
      replica: this.replica,
      ...(options.rebroadcastIntervalMs !== undefined ? { intervalMs: options.rebroadcastIntervalMs } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  addPeer(session: GossipSession): void {
    if (this.#peers.has(session)) return;
    const sender = new PacedSender(session, this.#o.sender);
    const id = session.nodeIdHex;
    const responder = new QueryResponder({
      chainHash: this.#o.chainHash,
      replica: this.replica,
      sender,
      ...pick(this.#o, ['queriesPerSecond', 'queryBurst', 'maxQueuedQueries', 'maxIdsPerReply', 'now']),
      onViolation: (reason) => this.#violation(session, reason),
      onFilter: () => this.rebroadcaster.onFilter(id),
    });
    this.#peers.set(session, { session, sender, responder });
    this.rebroadcaster.addPeer({ id, sender, filter: () => responder.filter });
  }

  removePeer(session: GossipSession): void {
    const entry = this.#peers.get(session);
    if (!entry) return;
    this.#peers.delete(session);
    entry.responder.close();
    entry.sender.close();
    this.#gone.messagesSent += entry.sender.messagesSent;
    this.#gone.bytesSent += entry.sender.bytesSent;
    addQueryStats(this.#gone.queries, entry.responder.stats);
    // Another session of the same node may still be here (a reconnect racing the old close).
    if (![...this.#peers.keys()].some((s) => s.nodeIdHex === session.nodeIdHex)) {
      this.rebroadcaster.removePeer(session.nodeIdHex);
      this.aggregator.forgetPeer(session.nodeIdHex);
    }
  }

  /** Every gossip message (BOLT 7 types) a peer sent, as PeerSession's 'gossip' event delivers them. */
  onPeerGossip(session: GossipSession, message: Uint8Array): IntakeOutcome | 'query' | 'sync-reply' | 'unknown-peer' | 'ignored' {
    const entry = this.#peers.get(session);
    if (!entry) return 'unknown-peer';
    if (message.length < 2) return 'ignored';
    const type = (message[0]! << 8) | message[1]!;
    if (isQueryType(type)) {
      entry.responder.handle(message);
      return 'query';
    }
    if (SYNC_REPLY_TYPES.has(type)) {
      this.#syncReplies++;
      this.#o.onSyncReply?.(session, message);
      return 'sync-reply';
    }
    if (isAnnouncementType(type)) return this.aggregator.receive(session.nodeIdHex, message);
    return 'ignored';
  }

  /** The routing-table snapshot the back streams at link-up: into the replica only, nothing is relayed. */
  applySnapshot(messages: readonly Uint8Array[]): ApplyResult {
    return this.replica.applyBatch(messages);
  }

  /**
   * Live updates from the back: decisions on what this front forwarded, and accepted gossip (from any
   * front). Accepted items go into the replica and, when they are news, into the next rebroadcast with the
   * peers they came from. An accepted item may arrive both as a decision and as a message: the replica
   * keeps it once, and its origins are found either way.
   */
  applyFromBack(messages: readonly Uint8Array[], decisions: readonly GossipDecision[] = []): void {
    for (const decision of decisions) {
      const { item } = this.aggregator.onDecision(decision.key, decision.accepted, decision.reason);
      if (item && decision.accepted) this.#accept(item.message, item.origins);
    }
    for (const message of messages) {
      let item: GossipItem;
      try {
        item = parseGossipItem(message);
      } catch (error) {
        if (error instanceof GossipFrontError) continue;
        throw error;
      }
      // Forwarded from here and accepted: the message itself is the decision.
      const mine = this.aggregator.inFlight(gossipKey(message, item));
      if (mine) this.aggregator.onDecision(mine.key, true);
      this.#accept(message, mine?.origins);
    }
  }

  stats(): GossipServiceStats {
    let messagesSent = this.#gone.messagesSent;
    let bytesSent = this.#gone.bytesSent;
    const queries = { ...this.#gone.queries };
    for (const entry of this.#peers.values()) {
      messagesSent += entry.sender.messagesSent;
      bytesSent += entry.sender.bytesSent;
      addQueryStats(queries, entry.responder.stats);
    }
    return {
      peers: this.#peers.size,
      replica: this.replica.stats(),
      aggregator: this.aggregator.stats(),
      rebroadcast: this.rebroadcaster.stats(),
      queries,
      messagesSent,
      bytesSent,
      syncReplies: this.#syncReplies,
      violations: this.#violations,
    };
  }

  /** The per-peer pieces (tests, diagnostics). */
  peer(session: GossipSession): { sender: PacedSender; responder: QueryResponder } | undefined {
    const entry = this.#peers.get(session);
    return entry ? { sender: entry.sender, responder: entry.responder } : undefined;
  }

  close(): void {
    for (const session of [...this.#peers.keys()]) this.removePeer(session);
    this.aggregator.close();
    this.rebroadcaster.close();
  }

  #accept(message: Uint8Array, origins: Iterable<string> | undefined): void {
    const result = this.replica.applyBatch([message]);
    for (const applied of result.applied) this.rebroadcaster.enqueue(applied.message, applied.item, origins);
  }

  #violation(session: GossipSession, reason: string): void {
    this.#violations++;
    this.#o.onViolation?.(session, reason);
  }
}

function emptyQueryStats(): QueryResponderStats {
  return { filters: 0, channelRangeQueries: 0, shortIdQueries: 0, delayed: 0, dropped: 0, violations: 0 };
}

function addQueryStats(into: QueryResponderStats, from: QueryResponderStats): void {
  for (const key of Object.keys(into) as (keyof QueryResponderStats)[]) into[key] += from[key];
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
