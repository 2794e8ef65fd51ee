import {
  decodeGossipTimestampFilter,
  decodeQueryChannelRange,
  decodeQueryShortChannelIds,
  encodeReplyChannelRange,
  encodeReplyShortChannelIdsEnd,
  MAX_MESSAGE_LENGTH,
  type QueryChannelRange,
  type QueryShortChannelIds,
} from '../../lightning/wire/messages.js';
import { MESSAGE_TYPES } from '../../lightning/wire/types.js';
import type { ChecksumPair, TimestampPair } from '../../lightning/wire/encoded-list.js';
import { WireError } from '../../lightning/wire/errors.js';
import { blockOf } from './gossip-item.js';
import type { GossipReplica, TimestampWindow } from './replica.js';
import type { PacedSender } from './paced-sender.js';

/**
 * Answers one peer's gossip queries from the replica: gossip_timestamp_filter (a dump of the window, then the
 * window is kept for relaying), query_channel_range and query_short_channel_ids, under a per-connection rate.
 *
 * Rate limit: a token bucket (eclair's 5 queries/s). A query beyond it is DELAYED, not dropped: BOLT 7 has no
 * timeout for replies, so an honest peer whose query we dropped would wait forever for its
 * reply_short_channel_ids_end or sync_complete. Only when more than `maxQueuedQueries` are waiting (a peer
 * ignoring the one-query-at-a-time rule) are further queries dropped, which bounds memory.
 */
export interface QueryResponderOptions {
  readonly chainHash: Uint8Array;
  readonly replica: GossipReplica;
  readonly sender: PacedSender;
  /** Token refill per second. Default 5 (eclair). */
  readonly queriesPerSecond?: number;
  /** Bucket size. Default 5. */
  readonly queryBurst?: number;
  /** Queries waiting for a token beyond which new ones are dropped. Default 16. */
  readonly maxQueuedQueries?: number;
  /** Cap on short_channel_ids per reply_channel_range; the message-size limit applies anyway. Default: fit. */
  readonly maxIdsPerReply?: number;
  /** A protocol violation by the peer (malformed query, flags not matching ids). The caller may warn or close. */
  readonly onViolation?: (reason: string) => void;
  /** The peer set or replaced its gossip_timestamp_filter. */
  readonly onFilter?: (window: TimestampWindow) => void;
  readonly now?: () => number;
}

export interface QueryResponderStats {
  filters: number;
  channelRangeQueries: number;
  shortIdQueries: number;
  delayed: number;
  dropped: number;
  violations: number;
}

const DUMP_TAG = 'dump';
const QUERY_TYPES = new Set<number>([MESSAGE_TYPES.gossip_timestamp_filter, MESSAGE_TYPES.query_channel_range, MESSAGE_TYPES.query_short_channel_ids]);
const MAX_BLOCK = 0xffffffff;

export function isQueryType(type: number): boolean {
  return QUERY_TYPES.has(type);
}

export class QueryResponder {
  readonly #o: QueryResponderOptions;
  readonly #chain: Buffer;
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxQueued: number;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;
  readonly #waiting: Uint8Array[] = [];
  #timer: NodeJS.Timeout | undefined;
  #filter: TimestampWindow | undefined;
  #closed = false;
  readonly stats: QueryResponderStats = { filters: 0, channelRangeQueries: 0, shortIdQueries: 0, delayed: 0, dropped: 0, violations: 0 };

  constructor(options: QueryResponderOptions) {
    this.#o = options;
    this.#chain = Buffer.from(options.chainHash);
    this.#rate = options.queriesPerSecond ?? 5;
    this.#burst = Math.max(1, options.queryBurst ?? 5);
    this.#maxQueued = options.maxQueuedQueries ?? 16;
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#burst;
    this.#refilledAt = this.#now();
  }

  /** The peer's current gossip_timestamp_filter: undefined until it sent one (then nothing may be relayed). */
  get filter(): TimestampWindow | undefined {
    return this.#filter;
  }

  /** A query message (types 261, 263, 265) from the peer. */
  handle(message: Uint8Array): void {
    if (this.#closed) return;
    if (this.#waiting.length > 0 || !this.#takeToken()) {
      if (this.#waiting.length >= this.#maxQueued) {
        this.stats.dropped++;
        return;
      }
      this.stats.delayed++;
      this.#waiting.push(message);
      this.#armTimer();
      return;
    }
    this.#answer(message);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#waiting.length = 0;
  }

  #takeToken(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #armTimer(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.#tokens) / this.#rate) * 1000));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      while (this.#waiting.length > 0 && this.#takeToken()) this.#answer(this.#waiting.shift()!);
      if (this.#waiting.length > 0) this.#armTimer();
    }, waitMs);
    this.#timer.unref();
  }

  #violation(reason: string): void {
    this.stats.violations++;
    this.#o.onViolation?.(reason);
  }

  #answer(message: Uint8Array): void {
    const type = (message[0]! << 8) | message[1]!;
    try {
      if (type === MESSAGE_TYPES.gossip_timestamp_filter) this.#onFilter(message);
      else if (type === MESSAGE_TYPES.query_channel_range) this.#onChannelRange(decodeQueryChannelRange(message));
      else if (type === MESSAGE_TYPES.query_short_channel_ids) this.#onShortIds(message);
    } catch (error) {
      if (error instanceof WireError) this.#violation(`malformed query (type ${type}): ${error.message}`);
      else throw error;
    }
  }

  #onFilter(message: Uint8Array): void {
    const filter = decodeGossipTimestampFilter(message);
    if (!this.#chain.equals(filter.chainHash)) return; // about another chain: nothing to send, nothing to change
    this.stats.filters++;
    const window: TimestampWindow = { first: filter.firstTimestamp, range: filter.timestampRange };
    this.#filter = window;
    // A new filter replaces the previous one, and its dump replaces a dump still in progress.
    this.#o.sender.cancelTagged(DUMP_TAG);
    this.#o.onFilter?.(window);
    if (window.range > 0) this.#o.sender.enqueue(this.#o.replica.messagesInWindow(window), 'bulk', DUMP_TAG);
  }

  #onChannelRange(query: QueryChannelRange): void {
    this.stats.channelRangeQueries++;
    const known = this.#chain.equals(query.chainHash);
    this.#o.sender.enqueue(channelRangeReplies(this.#o.replica, query, known, this.#o.maxIdsPerReply), 'reply', 'query_channel_range');
  }

  #onShortIds(message: Uint8Array): void {
    const query: QueryShortChannelIds = decodeQueryShortChannelIds(message);
    this.stats.shortIdQueries++;
    const flags = query.queryFlags?.values;
    if (flags && flags.length !== query.shortChannelIds.values.length) {
      this.#violation(`query_short_channel_ids: ${flags.length} flags for ${query.shortChannelIds.values.length} ids`);
      this.#o.sender.enqueue([encodeReplyShortChannelIdsEnd({ type: 'reply_short_channel_ids_end', chainHash: query.chainHash, fullInformation: 0 })], 'reply', 'query_short_channel_ids');
      return;
    }
    const known = this.#chain.equals(query.chainHash);
    this.#o.sender.enqueue(shortIdReplies(this.#o.replica, query, known), 'reply', 'query_short_channel_ids');
  }
}

/** reply_channel_range header: type, chain, first_blocknum, number_of_blocks, sync_complete, len, encoding byte. */
const RANGE_REPLY_OVERHEAD = 2 + 32 + 4 + 4 + 1 + 2 + 1;
/** timestamps_tlv: type 1, BigSize length (3 bytes past 252), encoding byte. */
const TIMESTAMPS_TLV_OVERHEAD = 1 + 3 + 1;
/** checksums_tlv: type 3, BigSize length. */
const CHECKSUMS_TLV_OVERHEAD = 1 + 3;

/** How many short_channel_ids fit in one reply_channel_range with the asked-for TLVs. */
export function maxIdsPerRangeReply(withTimestamps: boolean, withChecksums: boolean): number {
  const perId = 8 + (withTimestamps ? 8 : 0) + (withChecksums ? 8 : 0);
  const overhead = RANGE_REPLY_OVERHEAD + (withTimestamps ? TIMESTAMPS_TLV_OVERHEAD : 0) + (withChecksums ? CHECKSUMS_TLV_OVERHEAD : 0);
  return Math.floor((MAX_MESSAGE_LENGTH - overhead) / perId);
}

/**
 * The reply_channel_range messages for a query, built lazily one message at a time.
 *
 * Blocks: replies cover [first_blocknum, first_blocknum + number_of_blocks) of the query with neither gaps nor
 * overlaps: the first starts at the query's first block, each next one starts where the previous ended (the
 * block of its own first channel), the last ends at the query's end (capped at 2^32-1), and only it carries
 * sync_complete=1. A block's channels are never split across replies, except a block with more channels than
 * one reply holds: then its replies all cover just that block (BOLT 7 allows equal first_blocknums).
 * Unknown chain: one empty reply with sync_complete=0 (we hold no information about that chain).
 */
export function* channelRangeReplies(replica: GossipReplica, query: QueryChannelRange, knownChain: boolean, maxIdsCap?: number): Generator<Uint8Array, void, undefined> {
  const start = query.firstBlocknum;
  const end = Math.min(start + query.numberOfBlocks, MAX_BLOCK);
  const chainHash = query.chainHash;
  const option = query.queryOption ?? 0n;
  const withTimestamps = (option & 1n) !== 0n;
  const withChecksums = (option & 2n) !== 0n;
  const maxIds = Math.max(1, Math.min(maxIdsCap ?? Infinity, maxIdsPerRangeReply(withTimestamps, withChecksums)));

  const reply = (first: number, last: number, syncComplete: number, ids: bigint[], timestamps: TimestampPair[], checksums: ChecksumPair[]): Uint8Array =>
    encodeReplyChannelRange({
      type: 'reply_channel_range',
      chainHash,
      firstBlocknum: first,
      numberOfBlocks: Math.max(0, last - first),
      syncComplete,
      shortChannelIds: { encoding: 0, values: ids },
      ...(withTimestamps && knownChain ? { timestamps: { encoding: 0 as const, values: timestamps } } : {}),
      ...(withChecksums && knownChain ? { checksums } : {}),
    });

  if (!knownChain || end <= start) {
    yield reply(start, end, knownChain ? 1 : 0, [], [], []);
    return;
  }

  const endScid = BigInt(end) << 40n;
  let cursor = BigInt(start) << 40n; // next scid to consider
  let replyStart = start;
  for (;;) {
    const ids: bigint[] = [];
    const timestamps: TimestampPair[] = [];
    const checksums: ChecksumPair[] = [];
    let index = replica.indexAtOrAfter(cursor);
    let scid = replica.scidAt(index);
    let splitBlock = false;
    while (scid !== undefined && scid < endScid) {
      const block = blockOf(scid);
      // Count the whole block before taking it, so a block is never cut unless it alone overflows a reply.
      let blockEnd = index;
      while (replica.scidAt(blockEnd) !== undefined && blockOf(replica.scidAt(blockEnd)!) === block) blockEnd++;
      const blockCount = blockEnd - index;
      if (ids.length + blockCount > maxIds) {
        if (ids.length > 0) break;
        blockEnd = index + maxIds; // a block larger than a reply: split it
        splitBlock = true;
      }
      for (let i = index; i < blockEnd; i++) {
        const id = replica.scidAt(i)!;
        const channel = replica.channel(id)!;
        ids.push(id);
        timestamps.push({ timestamp1: channel.timestamp1, timestamp2: channel.timestamp2 });
        checksums.push({ checksum1: channel.checksum1, checksum2: channel.checksum2 });
      }
      index = blockEnd;
      scid = replica.scidAt(index);
      if (splitBlock) break;
    }
    const more = scid !== undefined && scid < endScid;
    if (!more) {
      yield reply(replyStart, end, 1, ids, timestamps, checksums);
      return;
    }
    const nextBlock = blockOf(scid!);
    // A split block: this reply covers through that block and the next one starts at it again.
    const replyEnd = splitBlock && nextBlock === blockOf(ids[ids.length - 1]!) ? nextBlock + 1 : nextBlock;
    yield reply(replyStart, replyEnd, 0, ids, timestamps, checksums);
    replyStart = nextBlock;
    cursor = scid!;
  }
}

/**
 * The answer to query_short_channel_ids, lazily: for each known id, what its flag asks (no flags: the
 * announcement, both updates and both node announcements), each node_announcement once per query and
 * right after the first channel that brings it; then reply_short_channel_ids_end (full_information=0 for a
 * chain we do not follow).
 */
export function* shortIdReplies(replica: GossipReplica, query: QueryShortChannelIds, knownChain: boolean): Generator<Uint8Array, void, undefined> {
  if (knownChain) {
    const ids = query.shortChannelIds.values;
    const flags = query.queryFlags?.values;
    const nodesSent = new Set<string>();
    for (let i = 0; i < ids.length; i++) {
      const channel = replica.channel(ids[i]!);
      if (!channel) continue;
      const flag = flags ? flags[i]! : 0b11111;
      if (flag & 1) yield channel.announcement;
      if (flag & 2 && channel.update1) yield channel.update1;
      if (flag & 4 && channel.update2) yield channel.update2;
      for (const [bit, nodeId] of [
        [8, channel.nodeId1],
        [16, channel.nodeId2],
      ] as const) {
        if (!(flag & bit) || nodesSent.has(nodeId)) continue;
        const node = replica.node(nodeId);
        if (!node?.announcement) continue;
        nodesSent.add(nodeId);
        yield node.announcement;
      }
    }
  }
  yield encodeReplyShortChannelIdsEnd({ type: 'reply_short_channel_ids_end', chainHash: query.chainHash, fullInformation: knownChain ? 1 : 0 });
}
