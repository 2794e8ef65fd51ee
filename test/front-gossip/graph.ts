// A generated gossip graph for the front's tests and benchmark: mainnet-shaped messages with random
// signatures (the front trusts the back's validation, so nothing here is signed).
import { chainHash } from '../../src/lightning/chains.js';
import {
  encodeChannelAnnouncement,
  encodeChannelUpdate,
  encodeNodeAnnouncement,
  scidFromParts,
} from '../../src/lightning/wire/index.js';

export const MAINNET = chainHash('bitcoin');

export interface GraphOptions {
  readonly channels: number;
  readonly nodes?: number;
  readonly seed?: number;
  /** Updates get timestamps in [baseTimestamp, baseTimestamp + spread). */
  readonly baseTimestamp?: number;
  readonly spread?: number;
  /** Share of channels whose block also holds the previous channel (so blocks hold several). Default 0.3. */
  readonly sameBlockShare?: number;
}

export interface GeneratedGraph {
  readonly announcements: Uint8Array[];
  readonly updates: Uint8Array[];
  readonly nodeAnnouncements: Uint8Array[];
  readonly scids: bigint[];
  readonly nodeIds: Uint8Array[];
  /** Everything in the order the back streams it: announcement, its updates, ...; then nodes. */
  readonly all: Uint8Array[];
}

/** Small fast deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(rand: () => number, n: number, first?: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0;
  if (first !== undefined) out[0] = first;
  return out;
}

export function makeUpdate(scid: bigint, direction: 0 | 1, timestamp: number, fee = 1000, chain = MAINNET, signatureSeed = 1): Uint8Array {
  const rand = prng(signatureSeed ^ timestamp);
  return encodeChannelUpdate({
    type: 'channel_update',
    signature: bytes(rand, 64),
    chainHash: chain,
    shortChannelId: scid,
    timestamp,
    messageFlags: 1,
    channelFlags: direction,
    cltvExpiryDelta: 144,
    htlcMinimumMsat: 1000n,
    feeBaseMsat: fee,
    feeProportionalMillionths: 100,
    htlcMaximumMsat: 990_000_000n,
  });
}

export function makeNodeAnnouncement(nodeId: Uint8Array, timestamp: number, seed = 1): Uint8Array {
  const rand = prng(seed ^ timestamp);
  return encodeNodeAnnouncement({
    type: 'node_announcement',
    signature: bytes(rand, 64),
    features: Uint8Array.of(0x08, 0xa0),
    timestamp,
    nodeId,
    rgbColor: Uint8Array.of(1, 2, 3),
    alias: bytes(rand, 32),
    addresses: [{ type: 'ipv4', addr: Uint8Array.of(10, 0, 0, 1), port: 9735 }],
  });
}

export function makeChannelAnnouncement(scid: bigint, node1: Uint8Array, node2: Uint8Array, seed = 1, chain = MAINNET): Uint8Array {
  const rand = prng(seed ^ Number(scid & 0xffffffn));
  return encodeChannelAnnouncement({
    type: 'channel_announcement',
    nodeSignature1: bytes(rand, 64),
    nodeSignature2: bytes(rand, 64),
    bitcoinSignature1: bytes(rand, 64),
    bitcoinSignature2: bytes(rand, 64),
    features: new Uint8Array(0),
    chainHash: chain,
    shortChannelId: scid,
    nodeId1: node1,
    nodeId2: node2,
    bitcoinKey1: bytes(rand, 33, 2),
    bitcoinKey2: bytes(rand, 33, 3),
  });
}

export function generateGraph(options: GraphOptions): GeneratedGraph {
  const rand = prng(options.seed ?? 7);
  const nodeCount = options.nodes ?? Math.max(2, Math.round(options.channels / 3.4));
  const base = options.baseTimestamp ?? 1_770_000_000;
  const spread = options.spread ?? 14 * 86_400;
  const sameBlock = options.sameBlockShare ?? 0.3;
  const nodeIds: Uint8Array[] = [];
  for (let i = 0; i < nodeCount; i++) nodeIds.push(bytes(rand, 33, 2 + (i & 1)));
  const announcements: Uint8Array[] = [];
  const updates: Uint8Array[] = [];
  const scids: bigint[] = [];
  const all: Uint8Array[] = [];
  let block = 500_000;
  let tx = 1;
  for (let i = 0; i < options.channels; i++) {
    if (rand() >= sameBlock) {
      block += 1 + Math.floor(rand() * 12);
      tx = 1 + Math.floor(rand() * 50);
    } else {
      tx += 1 + Math.floor(rand() * 20);
    }
    const scid = scidFromParts(block, tx, Math.floor(rand() * 3));
    // Hub-heavy like mainnet: a quarter of the endpoints are among the first 2% of nodes.
    const pick = (): Uint8Array => nodeIds[rand() < 0.25 ? Math.floor(rand() * Math.max(1, nodeCount / 50)) : Math.floor(rand() * nodeCount)]!;
    let n1 = pick();
    let n2 = pick();
    while (n2 === n1) n2 = nodeIds[Math.floor(rand() * nodeCount)]!;
    if (Buffer.compare(n1, n2) > 0) [n1, n2] = [n2, n1];
    const announcement = makeChannelAnnouncement(scid, n1, n2, i);
    const u1 = makeUpdate(scid, 0, base + Math.floor(rand() * spread), 1000 + i, MAINNET, i);
    const u2 = makeUpdate(scid, 1, base + Math.floor(rand() * spread), 2000 + i, MAINNET, i + 1);
    announcements.push(announcement);
    updates.push(u1, u2);
    scids.push(scid);
    all.push(announcement, u1, u2);
  }
  const nodeAnnouncements: Uint8Array[] = [];
  // About 85% of nodes announce themselves (mainnet: 15k of 17k).
  for (let i = 0; i < nodeCount; i++) {
    if (rand() < 0.15) continue;
    const na = makeNodeAnnouncement(nodeIds[i]!, base + Math.floor(rand() * spread), i);
    nodeAnnouncements.push(na);
    all.push(na);
  }
  return { announcements, updates, nodeAnnouncements, scids, nodeIds, all };
}
