import { createHash } from 'node:crypto';
import { MESSAGE_TYPES } from '../../lightning/wire/types.js';
import { GossipFrontError } from './errors.js';

/**
 * The few fields the front needs from a raw gossip message, read at fixed offsets without a full decode
 * (the replica holds ~165k of them; the bytes stay the single copy). Lengths are checked so that a short
 * message is a typed error, never an out-of-range read.
 */
export type GossipItem =
  | { readonly kind: 'channel_announcement'; readonly scid: bigint; readonly chainHash: Uint8Array; readonly nodeId1: string; readonly nodeId2: string }
  | { readonly kind: 'channel_update'; readonly scid: bigint; readonly chainHash: Uint8Array; readonly direction: 0 | 1; readonly timestamp: number }
  | { readonly kind: 'node_announcement'; readonly nodeId: string; readonly timestamp: number };

const CA = MESSAGE_TYPES.channel_announcement;
const NA = MESSAGE_TYPES.node_announcement;
const CU = MESSAGE_TYPES.channel_update;

/** channel_update: type 2 + signature 64 + chain 32 + scid 8 + timestamp 4 + flags 2 + cltv 2 + htlc_min 8 + fees 8. */
const MIN_UPDATE_LENGTH = 130;

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function u64(b: Uint8Array, at: number): bigint {
  return (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));
}

function hex(b: Uint8Array, at: number, length: number): string {
  return Buffer.from(b.buffer, b.byteOffset + at, length).toString('hex');
}

export function messageType(message: Uint8Array): number {
  if (message.length < 2) throw new GossipFrontError('malformed', `message of ${message.length} bytes has no type`);
  return u16(message, 0);
}

/** True for the three gossip kinds the replica stores (not the queries). */
export function isAnnouncementType(type: number): boolean {
  return type === CA || type === NA || type === CU;
}

/** Reads the identifying fields of a raw gossip message (type included). Throws GossipFrontError. */
export function parseGossipItem(message: Uint8Array): GossipItem {
  const type = messageType(message);
  if (type === CU) {
    if (message.length < MIN_UPDATE_LENGTH) throw new GossipFrontError('malformed', `channel_update of ${message.length} bytes`);
    return {
      kind: 'channel_update',
      chainHash: message.subarray(66, 98),
      scid: u64(message, 98),
      timestamp: u32(message, 106),
      direction: (message[111]! & 1) as 0 | 1,
    };
  }
  if (type === CA) {
    if (message.length < 260) throw new GossipFrontError('malformed', `channel_announcement of ${message.length} bytes`);
    const f = u16(message, 258);
    // features, chain 32, scid 8, node ids 2x33, bitcoin keys 2x33
    if (message.length < 260 + f + 32 + 8 + 4 * 33) throw new GossipFrontError('malformed', `channel_announcement of ${message.length} bytes`);
    const at = 260 + f;
    return { kind: 'channel_announcement', chainHash: message.subarray(at, at + 32), scid: u64(message, at + 32), nodeId1: hex(message, at + 40, 33), nodeId2: hex(message, at + 73, 33) };
  }
  if (type === NA) {
    if (message.length < 68) throw new GossipFrontError('malformed', `node_announcement of ${message.length} bytes`);
    const f = u16(message, 66);
    // features, timestamp 4, node id 33, rgb 3, alias 32, addrlen 2
    if (message.length < 68 + f + 4 + 33 + 3 + 32 + 2) throw new GossipFrontError('malformed', `node_announcement of ${message.length} bytes`);
    return { kind: 'node_announcement', timestamp: u32(message, 68 + f), nodeId: hex(message, 72 + f, 33) };
  }
  throw new GossipFrontError('not-gossip', `type ${type} is not an announcement or update`);
}

/**
 * A stable key for one gossip message: what it is about, its timestamp, and a hash of its bytes so that two
 * different messages about the same thing (a forged copy, a re-signed update) are never confused.
 * The back echoes it in its decision. Example: `cu:870000x12x1/0@1760000000#3f2a...`.
 */
export function gossipKey(message: Uint8Array, item: GossipItem = parseGossipItem(message)): string {
  const digest = createHash('sha256').update(message).digest('hex').slice(0, 16);
  switch (item.kind) {
    case 'channel_announcement':
      return `ca:${scidText(item.scid)}#${digest}`;
    case 'channel_update':
      return `cu:${scidText(item.scid)}/${item.direction}@${item.timestamp}#${digest}`;
    case 'node_announcement':
      return `na:${item.nodeId}@${item.timestamp}#${digest}`;
  }
}

function scidText(scid: bigint): string {
  return `${scid >> 40n}x${(scid >> 16n) & 0xffffffn}x${scid & 0xffffn}`;
}

export function blockOf(scid: bigint): number {
  return Number(scid >> 40n);
}
