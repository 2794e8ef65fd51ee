import { hasFeatureBit } from '../lightning/features/index.js';
import {
  decodeInit,
  decodeMessage,
  encodeGossipTimestampFilter,
  encodeQueryChannelRange,
  encodeQueryShortChannelIds,
} from '../lightning/wire/messages.js';
import type { RoutingTable } from './gossip/index.js';
import type { Logger } from '../util/log.js';

/**
 * The node's own gossip sync, driven from the back through the fronts. Every peer that negotiated
 * gossip_queries gets a `gossip_timestamp_filter` from now on (real peers such as LDK relay nothing
 * until they receive one); the first `syncPeers` of them are also asked `query_channel_range` over
 * the whole chain with timestamps, and what they have that we lack or hold older is fetched with
 * `query_short_channel_ids` in chunks. The gossip itself comes back through the fronts' intake like
 * any other. Progress is reported in `getinfo`.
 */
export interface GossipSyncOptions {
  table: RoutingTable;
  chainHash: Uint8Array;
  syncPeers: number;
  send(nodeId: string, message: Uint8Array): boolean;
  log: Logger;
  now?: () => number;
}

export interface SyncProgress {
  syncingPeers: number;
  completedPeers: number;
  channelsAnnounced: number;
  channelsRequested: number;
}

const GOSSIP_QUERIES_BIT = 6;
const IDS_PER_QUERY = 1000;

interface PeerSync {
  wanted: bigint[];
  inFlight: boolean;
  complete: boolean;
}

export class GossipSync {
  readonly #peers = new Map<string, PeerSync>();
  #completed = 0;
  #announced = 0;
  #requested = 0;

  constructor(private readonly options: GossipSyncOptions) {}

  onPeerReady(nodeId: string, init: Uint8Array): void {
    let features: Uint8Array;
    try {
      const decoded = decodeInit(init);
      features = decoded.features;
    } catch {
      return;
    }
    const supportsQueries = hasFeatureBit(features, GOSSIP_QUERIES_BIT) || hasFeatureBit(features, GOSSIP_QUERIES_BIT + 1);
    if (!supportsQueries) return;
    const now = Math.floor((this.options.now?.() ?? Date.now()) / 1000);
    const { chainHash } = this.options;
    this.options.send(nodeId, encodeGossipTimestampFilter({ type: 'gossip_timestamp_filter', chainHash, firstTimestamp: now, timestampRange: 0xffffffff }));
    if (this.#peers.size >= this.options.syncPeers || this.#peers.has(nodeId)) return;
    this.#peers.set(nodeId, { wanted: [], inFlight: false, complete: false });
    this.options.send(nodeId, encodeQueryChannelRange({ type: 'query_channel_range', chainHash, firstBlocknum: 0, numberOfBlocks: 0xffffffff, queryOption: 1n }));
    this.options.log.info({ peer: nodeId }, 'gossip sync started with peer');
  }

  onPeerDown(nodeId: string): void {
    const sync = this.#peers.get(nodeId);
    if (sync && !sync.complete) this.#peers.delete(nodeId);
  }

  /** reply_channel_range and reply_short_channel_ids_end from a peer we queried. */
  onReply(nodeId: string, message: Uint8Array): void {
    const sync = this.#peers.get(nodeId);
    if (!sync) return;
    let decoded;
    try {
      decoded = decodeMessage(message);
    } catch (error) {
      this.options.log.info({ peer: nodeId, reason: (error as Error).message }, 'malformed gossip reply');
      return;
    }
    if (decoded.type === 'reply_channel_range') {
      const timestamps = decoded.timestamps?.values;
      decoded.shortChannelIds.values.forEach((scid, i) => {
        this.#announced++;
        const known = this.options.table.getChannel(scid);
        const theirs = timestamps?.[i];
        const outdated = known && theirs && (theirs.timestamp1 > known.timestamps[0] || theirs.timestamp2 > known.timestamps[1]);
        if (!known || outdated) sync.wanted.push(scid);
      });
      if (decoded.syncComplete) this.#next(nodeId, sync);
    } else if (decoded.type === 'reply_short_channel_ids_end') {
      sync.inFlight = false;
      this.#next(nodeId, sync);
    }
  }

  progress(): SyncProgress {
    return {
      syncingPeers: [...this.#peers.values()].filter((p) => !p.complete).length,
      completedPeers: this.#completed,
      channelsAnnounced: this.#announced,
      channelsRequested: this.#requested,
    };
  }

  /** One query_short_channel_ids at a time per peer (BOLT 7 forbids overlapping ones). */
  #next(nodeId: string, sync: PeerSync): void {
    if (sync.inFlight || sync.complete) return;
    const chunk = sync.wanted.splice(0, IDS_PER_QUERY).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (chunk.length === 0) {
      sync.complete = true;
      this.#completed++;
      this.options.log.info({ peer: nodeId, requested: this.#requested }, 'gossip sync with peer complete');
      return;
    }
    sync.inFlight = true;
    this.#requested += chunk.length;
    this.options.send(
      nodeId,
      encodeQueryShortChannelIds({ type: 'query_short_channel_ids', chainHash: this.options.chainHash, shortChannelIds: { encoding: 0, values: chunk } }),
    );
  }
}
