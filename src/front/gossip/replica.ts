import { channelUpdateChecksum } from '../../lightning/wire/crc32c.js';
import { GossipFrontError } from './errors.js';
import { parseGossipItem, type GossipItem } from './gossip-item.js';

/**
 * The front's in-memory copy of the routing table, fed by the back (which already validated every
 * message: no signature checks here). It keeps the raw bytes as the single copy of each message plus the
 * few fields queries need (scid order, per-direction timestamps and checksums, node timestamps), so the
 * full mainnet graph (50k channels, 100k updates, 15k nodes) stays well under 250 MB.
 */
export interface ReplicaOptions {
  /** Only messages for this chain are stored; others are ignored (counted). Undefined: any chain. */
  readonly chainHash?: Uint8Array;
}

/** One channel: its announcement and the latest update per direction (0 = from node_id_1). */
export class ChannelRecord {
  update1: Uint8Array | undefined = undefined;
  update2: Uint8Array | undefined = undefined;
  timestamp1 = 0;
  timestamp2 = 0;
  checksum1 = 0;
  checksum2 = 0;
  constructor(
    readonly scid: bigint,
    readonly announcement: Uint8Array,
    /** Hex node ids, interned: every channel of a node shares the node record's string. */
    readonly nodeId1: string,
    readonly nodeId2: string,
  ) {}

  update(direction: 0 | 1): Uint8Array | undefined {
    return direction === 0 ? this.update1 : this.update2;
  }

  timestamp(direction: 0 | 1): number {
    return direction === 0 ? this.timestamp1 : this.timestamp2;
  }

  get hasUpdate(): boolean {
    return this.update1 !== undefined || this.update2 !== undefined;
  }
}

export class NodeRecord {
  announcement: Uint8Array | undefined = undefined;
  timestamp = 0;
  channels = 0;
  constructor(readonly nodeId: string) {}
}

/** What applyBatch did with each message it stored: only these are news worth relaying. */
export interface AppliedGossip {
  readonly message: Uint8Array;
  readonly item: GossipItem;
}

export interface ApplyResult {
  readonly applied: AppliedGossip[];
  /** Older or equal to what is stored, or already known. */
  readonly stale: number;
  /** channel_update for a channel we do not have. */
  readonly orphans: number;
  /** Unparseable, not an announcement/update, or for another chain. */
  readonly invalid: number;
}

export interface ReplicaStats {
  channels: number;
  updates: number;
  nodes: number;
  nodeAnnouncements: number;
  bytes: number;
}

/** A BOLT 7 timestamp window: [first, first + range), computed without u32 overflow. */
export interface TimestampWindow {
  readonly first: number;
  readonly range: number;
}

export function inWindow(timestamp: number, window: TimestampWindow): boolean {
  return timestamp >= window.first && timestamp < window.first + window.range;
}

export class GossipReplica {
  readonly #chainHash: Buffer | undefined;
  readonly #channels = new Map<bigint, ChannelRecord>();
  /** Every stored scid, ascending: the order of query_channel_range replies and of dumps. */
  #order: bigint[] = [];
  readonly #nodes = new Map<string, NodeRecord>();
  #updates = 0;
  #nodeAnnouncements = 0;
  #bytes = 0;

  constructor(options: ReplicaOptions = {}) {
    this.#chainHash = options.chainHash ? Buffer.from(options.chainHash) : undefined;
  }

  /** Stores what is new (copies the bytes: callers may reuse their buffers). */
  applyBatch(messages: readonly Uint8Array[]): ApplyResult {
    const applied: AppliedGossip[] = [];
    let stale = 0;
    let orphans = 0;
    let invalid = 0;
    for (const message of messages) {
      let item: GossipItem;
      try {
        item = parseGossipItem(message);
      } catch (error) {
        if (error instanceof GossipFrontError) {
          invalid++;
          continue;
        }
        throw error;
      }
      const outcome = this.#apply(message, item);
      if (outcome === 'applied') applied.push({ message: this.#stored(item) ?? message, item });
      else if (outcome === 'stale') stale++;
      else if (outcome === 'orphan') orphans++;
      else invalid++;
    }
    return { applied, stale, orphans, invalid };
  }

  /** Whether `item` would be news (newer than, or absent from, the replica). */
  isNewer(item: GossipItem): boolean {
    switch (item.kind) {
      case 'channel_announcement':
        return !this.#channels.has(item.scid);
      case 'channel_update': {
        const channel = this.#channels.get(item.scid);
        return channel === undefined || item.timestamp > channel.timestamp(item.direction);
      }
      case 'node_announcement': {
        const node = this.#nodes.get(item.nodeId);
        return node?.announcement === undefined || item.timestamp > node.timestamp;
      }
    }
  }

  channel(scid: bigint): ChannelRecord | undefined {
    return this.#channels.get(scid);
  }

  node(nodeId: string | Uint8Array): NodeRecord | undefined {
    return this.#nodes.get(typeof nodeId === 'string' ? nodeId : Buffer.from(nodeId).toString('hex'));
  }

  /** Removes a channel (the back pruned it); a node left without channels goes too. */
  removeChannel(scid: bigint): boolean {
    const channel = this.#channels.get(scid);
    if (!channel) return false;
    this.#channels.delete(scid);
    const at = this.#lowerBound(scid);
    if (this.#order[at] === scid) this.#order.splice(at, 1);
    this.#bytes -= channel.announcement.length + (channel.update1?.length ?? 0) + (channel.update2?.length ?? 0);
    this.#updates -= (channel.update1 ? 1 : 0) + (channel.update2 ? 1 : 0);
    for (const id of [channel.nodeId1, channel.nodeId2]) {
      const node = this.#nodes.get(id);
      if (node && --node.channels <= 0) this.#dropNode(node);
    }
    return true;
  }

  get size(): number {
    return this.#order.length;
  }

  stats(): ReplicaStats {
    return { channels: this.#order.length, updates: this.#updates, nodes: this.#nodes.size, nodeAnnouncements: this.#nodeAnnouncements, bytes: this.#bytes };
  }

  /** Index of the first stored scid >= `scid` (the length when there is none). */
  indexAtOrAfter(scid: bigint): number {
    return this.#lowerBound(scid);
  }

  /** The stored scid at position `index` of the ascending order. */
  scidAt(index: number): bigint | undefined {
    return this.#order[index];
  }

  /** Channels in scid order starting at the first scid >= `from`; robust to changes between steps. */
  *channelsFrom(from = 0n): Generator<ChannelRecord, void, undefined> {
    let cursor = from;
    let index = this.#lowerBound(cursor);
    for (;;) {
      // The order may have changed while the caller was away: `index` must still be the lower bound of `cursor`.
      const order = this.#order;
      const stillLowerBound = (index === 0 || order[index - 1]! < cursor) && (index >= order.length || order[index]! >= cursor);
      if (!stillLowerBound) index = this.#lowerBound(cursor);
      const scid = order[index];
      if (scid === undefined) return;
      const channel = this.#channels.get(scid)!;
      cursor = scid + 1n;
      index++;
      yield channel;
    }
  }

  /** Node records in insertion order (a live Map iterator: safe across changes). */
  nodes(): IterableIterator<NodeRecord> {
    return this.#nodes.values();
  }

  /**
   * Every message whose timestamp is in the window, in the order BOLT 7 asks for: for each channel (scid
   * order) with an update in the window, its announcement, then those updates; then node announcements.
   * Channels with no update are never sent. Pull-based: nothing is materialised ahead of the consumer.
   */
  *messagesInWindow(window: TimestampWindow): Generator<Uint8Array, void, undefined> {
    if (window.range === 0) return;
    for (const channel of this.channelsFrom(0n)) {
      const in1 = channel.update1 !== undefined && inWindow(channel.timestamp1, window);
      const in2 = channel.update2 !== undefined && inWindow(channel.timestamp2, window);
      if (!in1 && !in2) continue;
      yield channel.announcement;
      if (in1) yield channel.update1!;
      if (in2) yield channel.update2!;
    }
    for (const node of this.nodes()) {
      if (node.announcement !== undefined && inWindow(node.timestamp, window)) yield node.announcement;
    }
  }

  #stored(item: GossipItem): Uint8Array | undefined {
    if (item.kind === 'channel_announcement') return this.#channels.get(item.scid)?.announcement;
    if (item.kind === 'channel_update') return this.#channels.get(item.scid)?.update(item.direction);
    return this.#nodes.get(item.nodeId)?.announcement;
  }

  #apply(message: Uint8Array, item: GossipItem): 'applied' | 'stale' | 'orphan' | 'invalid' {
    if (item.kind !== 'node_announcement' && this.#chainHash && !this.#chainHash.equals(item.chainHash)) return 'invalid';
    switch (item.kind) {
      case 'channel_announcement': {
        if (this.#channels.has(item.scid)) return 'stale';
        const node1 = this.#nodeFor(item.nodeId1);
        const node2 = this.#nodeFor(item.nodeId2);
        node1.channels++;
        node2.channels++;
        const bytes = message.slice();
        this.#channels.set(item.scid, new ChannelRecord(item.scid, bytes, node1.nodeId, node2.nodeId));
        this.#insertOrder(item.scid);
        this.#bytes += bytes.length;
        return 'applied';
      }
      case 'channel_update': {
        const channel = this.#channels.get(item.scid);
        if (!channel) return 'orphan';
        const previous = channel.update(item.direction);
        if (previous !== undefined && item.timestamp <= channel.timestamp(item.direction)) return 'stale';
        const bytes = message.slice();
        const checksum = channelUpdateChecksum(bytes);
        if (item.direction === 0) {
          channel.update1 = bytes;
          channel.timestamp1 = item.timestamp;
          channel.checksum1 = checksum;
        } else {
          channel.update2 = bytes;
          channel.timestamp2 = item.timestamp;
          channel.checksum2 = checksum;
        }
        if (previous === undefined) this.#updates++;
        this.#bytes += bytes.length - (previous?.length ?? 0);
        return 'applied';
      }
      case 'node_announcement': {
        const node = this.#nodes.get(item.nodeId);
        // BOLT 7: a node_announcement needs a channel of that node; the back checks, we just need the record.
        if (!node) return 'orphan';
        if (node.announcement !== undefined && item.timestamp <= node.timestamp) return 'stale';
        const bytes = message.slice();
        if (node.announcement === undefined) this.#nodeAnnouncements++;
        this.#bytes += bytes.length - (node.announcement?.length ?? 0);
        node.announcement = bytes;
        node.timestamp = item.timestamp;
        return 'applied';
      }
    }
  }

  #nodeFor(nodeId: string): NodeRecord {
    let node = this.#nodes.get(nodeId);
    if (!node) {
      node = new NodeRecord(nodeId);
      this.#nodes.set(nodeId, node);
    }
    return node;
  }

  #dropNode(node: NodeRecord): void {
    this.#nodes.delete(node.nodeId);
    if (node.announcement) {
      this.#nodeAnnouncements--;
      this.#bytes -= node.announcement.length;
    }
  }

  #insertOrder(scid: bigint): void {
    const order = this.#order;
    // The back streams its table in scid order: appending is the common case.
    if (order.length === 0 || order[order.length - 1]! < scid) {
      order.push(scid);
      return;
    }
    order.splice(this.#lowerBound(scid), 0, scid);
  }

  #lowerBound(scid: bigint): number {
    const order = this.#order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid]! < scid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
