import { createHash } from 'node:crypto';
import { defaultCrypto, type CryptoProvider } from '../crypto/index.js';
import { chainHash, type Network } from '../chains.js';
import { scidFromParts, type ChannelUpdate, type ShortChannelId } from '../wire/index.js';
import { buildNodeAnnouncement } from './node-announcement.js';
import { signChannelAnnouncement, signChannelUpdate } from './signatures.js';

/**
 * Deterministic signed gossip for tests and benchmarks (no data files needed): nodes with keys derived
 * from a seed, channels between them in short_channel_id order, two updates per channel, one
 * node_announcement per node. Not a realistic topology; real shapes come from ../shared/data.
 */
export interface SyntheticNode {
  readonly secretKey: Uint8Array;
  readonly nodeId: Uint8Array;
}

export interface SyntheticChannel {
  readonly scid: ShortChannelId;
  /** Index into nodes of node_id_1 (the lesser id) and node_id_2. */
  readonly node1: number;
  readonly node2: number;
  readonly bitcoinKey1: Uint8Array;
  readonly bitcoinKey2: Uint8Array;
  readonly announcement: Uint8Array;
  readonly updates: readonly [Uint8Array, Uint8Array];
}

export interface SyntheticGraph {
  readonly nodes: readonly SyntheticNode[];
  readonly channels: readonly SyntheticChannel[];
  readonly nodeAnnouncements: readonly Uint8Array[];
  /** channel_announcement, its 2 updates, ... then the node_announcements: the layout of graph.gossip. */
  readonly messages: readonly Uint8Array[];
}

export interface SyntheticGraphOptions {
  readonly nodes: number;
  readonly channels: number;
  /** Timestamp of every update and node_announcement. */
  readonly timestamp: number;
  readonly seed?: string;
  readonly network?: Network;
  readonly crypto?: CryptoProvider;
}

export function syntheticKey(seed: string, label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`${seed}/${label}`).digest());
}

export function syntheticGraph(options: SyntheticGraphOptions): SyntheticGraph {
  const crypto = options.crypto ?? defaultCrypto();
  const seed = options.seed ?? 'lncluster-synthetic';
  const chain = chainHash(options.network ?? 'bitcoin');
  const nodes = Array.from({ length: options.nodes }, (_, i) => {
    const secretKey = syntheticKey(seed, `node/${i}`);
    return { secretKey, nodeId: crypto.publicKey(secretKey) };
  });
  const channels: SyntheticChannel[] = [];
  for (let i = 0; i < options.channels; i++) {
    // A ring plus chords: every node gets a channel, all pairs distinct for small graphs.
    let a = i % nodes.length;
    let b = (a + 1 + Math.floor(i / nodes.length)) % nodes.length;
    if (a === b) b = (b + 1) % nodes.length;
    if (Buffer.compare(Buffer.from(nodes[a]!.nodeId), Buffer.from(nodes[b]!.nodeId)) > 0) [a, b] = [b, a];
    const scid = scidFromParts(800_000 + Math.floor(i / 100), i % 100, 0);
    const btc1 = syntheticKey(seed, `btc/${i}/1`);
    const btc2 = syntheticKey(seed, `btc/${i}/2`);
    const bitcoinKey1 = crypto.publicKey(btc1);
    const bitcoinKey2 = crypto.publicKey(btc2);
    const announcement = signChannelAnnouncement(
      crypto,
      { features: new Uint8Array(0), chainHash: chain, shortChannelId: scid, nodeId1: nodes[a]!.nodeId, nodeId2: nodes[b]!.nodeId, bitcoinKey1, bitcoinKey2 },
      { node1: nodes[a]!.secretKey, node2: nodes[b]!.secretKey, bitcoin1: btc1, bitcoin2: btc2 },
    );
    const update = (direction: 0 | 1) =>
      signChannelUpdate(crypto, syntheticUpdateFields(chain, scid, direction, options.timestamp), direction === 0 ? nodes[a]!.secretKey : nodes[b]!.secretKey);
    channels.push({ scid, node1: a, node2: b, bitcoinKey1, bitcoinKey2, announcement, updates: [update(0), update(1)] });
  }
  const connected = new Set(channels.flatMap((c) => [c.node1, c.node2]));
  const nodeAnnouncements = nodes
    .filter((_, i) => connected.has(i))
    .map((n, i) =>
      buildNodeAnnouncement({ secretKey: n.secretKey, alias: `synthetic-${i}`, color: '#3399ff', addresses: [`10.0.${(i >> 8) & 255}.${i & 255}:9735`], features: new Uint8Array(0), timestamp: options.timestamp, crypto }),
    );
  const messages = [...channels.flatMap((c) => [c.announcement, ...c.updates]), ...nodeAnnouncements];
  return { nodes, channels, nodeAnnouncements, messages };
}

/** Fields of a plausible channel_update (change the ones a test cares about). */
export function syntheticUpdateFields(chain: Uint8Array, scid: ShortChannelId, direction: 0 | 1, timestamp: number): Omit<ChannelUpdate, 'signature' | 'type'> {
  return {
    chainHash: chain,
    shortChannelId: scid,
    timestamp,
    messageFlags: 1,
    channelFlags: direction,
    cltvExpiryDelta: 144,
    htlcMinimumMsat: 1000n,
    feeBaseMsat: 1000,
    feeProportionalMillionths: 100,
    htlcMaximumMsat: 990_000_000n,
  };
}
