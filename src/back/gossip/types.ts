import { PEER_FAULT_VERDICT_REASONS } from '../../cluster/gossip-frames.js';
import type { ShortChannelId } from '../../lightning/wire/index.js';

export type GossipKind = 'channel_announcement' | 'node_announcement' | 'channel_update';

/**
 * Why the table refused a message. The ones a relaying peer is to blame for are in PEER_FAULT_REASONS
 * (a front may mute a peer that sends many of them); the others are normal in a gossip network (a
 * peer relays what it has, which may be older or newer than ours).
 */
export type RejectReason =
  /** Undecodable, or not a channel_announcement / node_announcement / channel_update. */
  | 'malformed'
  /** A signature does not verify (BOLT 7: MUST NOT process further). */
  | 'bad-signature'
  /** chain_hash is not the chain this node runs on (BOLT 7: MUST ignore). */
  | 'wrong-chain'
  /** channel_update for a short_channel_id we have no channel_announcement for (BOLT 7: MUST ignore). */
  | 'unknown-channel'
  /** node_announcement for a node no known channel mentions (BOLT 7: SHOULD ignore). */
  | 'no-channel-for-node'
  /** Older than what we have (node_announcement: not newer, BOLT 7 wants strictly greater). */
  | 'stale'
  /** The same message we have (channel_update / node_announcement: same timestamp and same signed fields; a
   *  re-signed or s-flipped copy counts as a duplicate, BOLT 7 rationale). */
  | 'duplicate'
  /** Same timestamp, different parameters (channel_update), or another announcement for a known
   *  short_channel_id. BOLT 7 allows blacklisting the signer; we keep the first and say so. */
  | 'conflict'
  /** channel_update older than two weeks (BOLT 7 pruning horizon, 1,209,600 s). */
  | 'too-old'
  /** Timestamp more than `maxFutureSeconds` ahead of our clock. */
  | 'too-far-in-future'
  /** Funding output spent or absent (BOLT 7: MUST ignore). Only with a FundingChecker. */
  | 'funding-spent'
  /** Funding output is not the P2WSH 2-of-2 of bitcoin_key_1/2. Only with a FundingChecker. */
  | 'funding-mismatch'
  /** Funding output has fewer than the required confirmations. Only with a FundingChecker. */
  | 'funding-unconfirmed'
  /** The chain backend could not answer (network, RPC error). Retry later. */
  | 'funding-check-failed'
  /** A FundingChecker is configured, so channel_announcements must go through ingestAsync(). */
  | 'funding-unchecked';

export const REJECT_REASONS: readonly RejectReason[] = [
  'malformed',
  'bad-signature',
  'wrong-chain',
  'unknown-channel',
  'no-channel-for-node',
  'stale',
  'duplicate',
  'conflict',
  'too-old',
  'too-far-in-future',
  'funding-spent',
  'funding-mismatch',
  'funding-unconfirmed',
  'funding-check-failed',
  'funding-unchecked',
];

/** Reasons that only a broken or hostile relaying peer produces (the link's vocabulary, type-checked here). */
export const PEER_FAULT_REASONS: ReadonlySet<RejectReason> = new Set<RejectReason>(PEER_FAULT_VERDICT_REASONS);

/**
 * `key` names the item: channel_announcement "800000x1x0", channel_update "800000x1x0/0" (direction),
 * node_announcement the node id in hex.
 */
export type Decision =
  | { readonly accepted: true; readonly kind: GossipKind; readonly key: string; readonly replaced: boolean; readonly timestamp?: number }
  | { readonly accepted: false; readonly reason: RejectReason; readonly detail: string; readonly kind?: GossipKind; readonly key?: string };

/** What changed in the table, for the store and for whoever replicates the table to the fronts. */
export type TableChange =
  | {
      readonly type: 'accepted';
      readonly kind: GossipKind;
      readonly key: string;
      /** The raw message as accepted (owned by the table: do not mutate). */
      readonly message: Uint8Array;
      readonly replaced: boolean;
      /** Peers (whatever ids the caller passed) that sent it: never send it back to them. */
      readonly origins: readonly string[];
      readonly scid?: ShortChannelId;
    }
  | { readonly type: 'channel-removed'; readonly scid: ShortChannelId; readonly key: string; readonly why: 'pruned' | 'closed' }
  | { readonly type: 'node-removed'; readonly nodeId: Uint8Array; readonly key: string };

export type TableListener = (change: TableChange) => void;

/**
 * A channel as the table keeps it: raw bytes plus the few fields queries need. Read-only for callers, and
 * live: it is the table's own entry (no copy), so a later update changes what it shows.
 */
export interface ChannelView {
  readonly scid: ShortChannelId;
  readonly announcement: Uint8Array;
  /** Latest channel_update per direction (0: from node_id_1, 1: from node_id_2). */
  readonly updates: readonly [Uint8Array | undefined, Uint8Array | undefined];
  /** Their timestamps, 0 when absent (the encoding reply_channel_range timestamps use). */
  readonly timestamps: readonly [number, number];
  readonly nodeId1Hex: string;
  readonly nodeId2Hex: string;
  /** Seconds (table clock) when the announcement was accepted. */
  readonly receivedAt: number;
  /** From the funding check, when it ran. */
  readonly capacitySat?: number;
}

/** A node as the table keeps it (live, read-only; see ChannelView). */
export interface NodeView {
  readonly nodeIdHex: string;
  readonly nodeId: Uint8Array;
  /** Latest node_announcement, if any. */
  readonly announcement: Uint8Array | undefined;
  /** Its timestamp, 0 when absent. */
  readonly timestamp: number;
  /** Channels of the table that mention this node. */
  readonly channelCount: number;
}

export interface TableCounts {
  readonly channels: number;
  readonly channelUpdates: number;
  /** Nodes that some channel mentions. */
  readonly nodes: number;
  readonly nodeAnnouncements: number;
}

/** The subset of a pino Logger the table uses. */
export interface GossipLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
