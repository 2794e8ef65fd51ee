import { WireError } from './errors.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';
import { readTlvStream, writeTlvStream, mergeTlvs, type TlvRecord } from './tlv.js';
import { parseAddresses, encodeAddresses, type NodeAddress } from './address.js';
import {
  decodeShortIdList,
  decodeTimestampList,
  decodeQueryFlagList,
  decodeChecksumList,
  encodeShortIdList,
  encodeTimestampList,
  encodeQueryFlagList,
  encodeChecksumList,
  type EncodedList,
  type TimestampPair,
  type ChecksumPair,
} from './encoded-list.js';
import { MESSAGE_TYPES, knownMessageName, channelIdOffset, type ChannelMessageName } from './types.js';
import type { ShortChannelId } from './scid.js';

/** BOLT 8 frames carry at most 65535 bytes, type included. */
export const MAX_MESSAGE_LENGTH = 65535;

// ---- message shapes ---------------------------------------------------------------------------------
// Byte fields are copies of the input. `trailing` keeps bytes after the last known field verbatim
// (an extension we do not interpret; for gossip it is inside the signed bytes). `extraTlvs` keeps the
// unknown odd records of a message whose TLV stream we parse. Both make re-encoding byte-identical.

export interface InitMessage {
  readonly type: 'init';
  readonly globalFeatures: Uint8Array;
  readonly features: Uint8Array;
  /** `networks` TLV (type 1): chain hashes, 32 bytes each. */
  readonly networks?: Uint8Array[];
  /** `remote_addr` TLV (type 3): one raw address descriptor (see decodeAddressDescriptor). */
  readonly remoteAddr?: Uint8Array;
  readonly extraTlvs?: TlvRecord[];
}

export interface ErrorMessage {
  readonly type: 'error' | 'warning';
  readonly channelId: Uint8Array;
  readonly data: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface PingMessage {
  readonly type: 'ping';
  readonly numPongBytes: number;
  readonly ignored: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface PongMessage {
  readonly type: 'pong';
  readonly ignored: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface PeerStorageMessage {
  readonly type: 'peer_storage' | 'peer_storage_retrieval';
  readonly blob: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface ChannelAnnouncement {
  readonly type: 'channel_announcement';
  readonly nodeSignature1: Uint8Array;
  readonly nodeSignature2: Uint8Array;
  readonly bitcoinSignature1: Uint8Array;
  readonly bitcoinSignature2: Uint8Array;
  readonly features: Uint8Array;
  readonly chainHash: Uint8Array;
  readonly shortChannelId: ShortChannelId;
  readonly nodeId1: Uint8Array;
  readonly nodeId2: Uint8Array;
  readonly bitcoinKey1: Uint8Array;
  readonly bitcoinKey2: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface NodeAnnouncement {
  readonly type: 'node_announcement';
  readonly signature: Uint8Array;
  readonly features: Uint8Array;
  readonly timestamp: number;
  readonly nodeId: Uint8Array;
  readonly rgbColor: Uint8Array;
  /** 32 bytes, UTF-8 padded with zeros (kept raw: any bytes round-trip). */
  readonly alias: Uint8Array;
  readonly addresses: NodeAddress[];
  /** Address bytes from the first unknown or truncated descriptor on, verbatim. */
  readonly addressesTail?: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface ChannelUpdate {
  readonly type: 'channel_update';
  readonly signature: Uint8Array;
  readonly chainHash: Uint8Array;
  readonly shortChannelId: ShortChannelId;
  readonly timestamp: number;
  readonly messageFlags: number;
  /** Bit 0: direction (0 = from node_id_1); bit 1: disabled. */
  readonly channelFlags: number;
  readonly cltvExpiryDelta: number;
  readonly htlcMinimumMsat: bigint;
  readonly feeBaseMsat: number;
  readonly feeProportionalMillionths: number;
  /** Present when message_flags bit 0 (must_be_one) is set, as BOLT 7 now requires. */
  readonly htlcMaximumMsat?: bigint;
  /** E.g. LND's inbound-fee TLV (type 55555): part of the signed bytes. */
  readonly trailing?: Uint8Array;
}

export interface AnnouncementSignatures {
  readonly type: 'announcement_signatures';
  readonly channelId: Uint8Array;
  readonly shortChannelId: ShortChannelId;
  readonly nodeSignature: Uint8Array;
  readonly bitcoinSignature: Uint8Array;
  readonly trailing?: Uint8Array;
}

export interface QueryShortChannelIds {
  readonly type: 'query_short_channel_ids';
  readonly chainHash: Uint8Array;
  readonly shortChannelIds: EncodedList<ShortChannelId>;
  /** `query_flags` TLV (type 1): one flag per id (bit 0 announcement, 1/2 updates, 3/4 node announcements). */
  readonly queryFlags?: EncodedList<number>;
  readonly extraTlvs?: TlvRecord[];
}

export interface ReplyShortChannelIdsEnd {
  readonly type: 'reply_short_channel_ids_end';
  readonly chainHash: Uint8Array;
  readonly fullInformation: number;
  readonly trailing?: Uint8Array;
}

export interface QueryChannelRange {
  readonly type: 'query_channel_range';
  readonly chainHash: Uint8Array;
  readonly firstBlocknum: number;
  readonly numberOfBlocks: number;
  /** `query_option` TLV (type 1): bit 0 wants timestamps, bit 1 wants checksums. */
  readonly queryOption?: bigint;
  readonly extraTlvs?: TlvRecord[];
}

export interface ReplyChannelRange {
  readonly type: 'reply_channel_range';
  readonly chainHash: Uint8Array;
  readonly firstBlocknum: number;
  readonly numberOfBlocks: number;
  readonly syncComplete: number;
  readonly shortChannelIds: EncodedList<ShortChannelId>;
  /** `timestamps_tlv` (type 1). */
  readonly timestamps?: EncodedList<TimestampPair>;
  /** `checksums_tlv` (type 3). */
  readonly checksums?: ChecksumPair[];
  readonly extraTlvs?: TlvRecord[];
}

export interface GossipTimestampFilter {
  readonly type: 'gossip_timestamp_filter';
  readonly chainHash: Uint8Array;
  readonly firstTimestamp: number;
  readonly timestampRange: number;
  readonly trailing?: Uint8Array;
}

/** A BOLT 2 message: recognised by type, routed by channel id, body carried raw. */
export interface ChannelMessage {
  readonly type: ChannelMessageName;
  readonly wireType: number;
  /** The channel id (the temporary one for open_channel / open_channel2 / accept_channel / funding_created). */
  readonly channelId: Uint8Array;
  /** The whole message, type included. */
  readonly bytes: Uint8Array;
}

/** An odd type we do not know: ignored by BOLT 1, kept raw so a relay can pass it on. */
export interface UnknownMessage {
  readonly type: 'unknown';
  readonly wireType: number;
  /** Everything after the 2-byte type. */
  readonly payload: Uint8Array;
}

export type WireMessage =
  | InitMessage
  | ErrorMessage
  | PingMessage
  | PongMessage
  | PeerStorageMessage
  | ChannelAnnouncement
  | NodeAnnouncement
  | ChannelUpdate
  | AnnouncementSignatures
  | QueryShortChannelIds
  | ReplyShortChannelIdsEnd
  | QueryChannelRange
  | ReplyChannelRange
  | GossipTimestampFilter
  | ChannelMessage
  | UnknownMessage;

// ---- helpers ----------------------------------------------------------------------------------------

function start(bytes: Uint8Array, expected: number, name: string): ByteReader {
  if (bytes.length > MAX_MESSAGE_LENGTH) throw new WireError('too-long', `${name}: ${bytes.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  const r = new ByteReader(bytes);
  const type = r.u16('message type');
  if (type !== expected) throw new WireError('bad-value', `expected ${name} (${expected}), got type ${type}`);
  return r;
}

function header(type: number, capacity = 128): ByteWriter {
  return new ByteWriter(capacity).u16(type);
}

function done(w: ByteWriter, name: string): Uint8Array {
  if (w.length > MAX_MESSAGE_LENGTH) throw new WireError('too-long', `${name}: ${w.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  return w.finish();
}

function trailingOf(r: ByteReader): { trailing?: Uint8Array } {
  return r.done ? {} : { trailing: r.rest() };
}

function writeTrailing(w: ByteWriter, trailing: Uint8Array | undefined): void {
  if (trailing) w.bytes(trailing);
}

function u16Bytes(r: ByteReader, what: string): Uint8Array {
  const n = r.u16(`${what} length`);
  return r.bytes(n, what);
}

function extraOf(records: TlvRecord[], known: readonly bigint[]): { extraTlvs?: TlvRecord[] } {
  const extra = records.filter((x) => !known.includes(x.type));
  return extra.length > 0 ? { extraTlvs: extra } : {};
}

// ---- BOLT 1 -----------------------------------------------------------------------------------------

const INIT_TLVS = [1n, 3n] as const;

export function decodeInit(bytes: Uint8Array): InitMessage {
  const r = start(bytes, MESSAGE_TYPES.init, 'init');
  const globalFeatures = u16Bytes(r, 'globalfeatures');
  const features = u16Bytes(r, 'features');
  const tlvs = readTlvStream(r, (t) => (INIT_TLVS as readonly bigint[]).includes(t));
  let networks: Uint8Array[] | undefined;
  let remoteAddr: Uint8Array | undefined;
  for (const rec of tlvs) {
    if (rec.type === 1n) {
      if (rec.value.length % 32 !== 0) throw new WireError('bad-value', `init networks: ${rec.value.length} bytes is not a list of chain hashes`);
      networks = [];
      for (let i = 0; i < rec.value.length; i += 32) networks.push(rec.value.slice(i, i + 32));
    } else if (rec.type === 3n) {
      remoteAddr = rec.value;
    }
  }
  return {
    type: 'init',
    globalFeatures,
    features,
    ...(networks ? { networks } : {}),
    ...(remoteAddr ? { remoteAddr } : {}),
    ...extraOf(tlvs, INIT_TLVS),
  };
}

export function encodeInit(m: InitMessage): Uint8Array {
  const w = header(MESSAGE_TYPES.init).u16Bytes(m.globalFeatures, 'globalfeatures').u16Bytes(m.features, 'features');
  const known: TlvRecord[] = [];
  if (m.networks) {
    const v = new ByteWriter(m.networks.length * 32 + 1);
    for (const n of m.networks) v.fixed(n, 32, 'network chain hash');
    known.push({ type: 1n, value: v.finish() });
  }
  if (m.remoteAddr) known.push({ type: 3n, value: m.remoteAddr });
  writeTlvStream(w, mergeTlvs(known, m.extraTlvs));
  return done(w, 'init');
}

function decodeErrorLike(bytes: Uint8Array, kind: 'error' | 'warning'): ErrorMessage {
  const r = start(bytes, MESSAGE_TYPES[kind], kind);
  const channelId = r.bytes(32, 'channel_id');
  const data = u16Bytes(r, 'data');
  return { type: kind, channelId, data, ...trailingOf(r) };
}

export function decodeError(bytes: Uint8Array): ErrorMessage {
  return decodeErrorLike(bytes, 'error');
}

export function decodeWarning(bytes: Uint8Array): ErrorMessage {
  return decodeErrorLike(bytes, 'warning');
}

export function encodeError(m: ErrorMessage): Uint8Array {
  const w = header(MESSAGE_TYPES[m.type]).fixed(m.channelId, 32, 'channel_id').u16Bytes(m.data, 'data');
  writeTrailing(w, m.trailing);
  return done(w, m.type);
}

export function decodePing(bytes: Uint8Array): PingMessage {
  const r = start(bytes, MESSAGE_TYPES.ping, 'ping');
  const numPongBytes = r.u16('num_pong_bytes');
  const ignored = u16Bytes(r, 'ignored');
  return { type: 'ping', numPongBytes, ignored, ...trailingOf(r) };
}

export function encodePing(m: PingMessage): Uint8Array {
  const w = header(MESSAGE_TYPES.ping).u16(m.numPongBytes, 'num_pong_bytes').u16Bytes(m.ignored, 'ignored');
  writeTrailing(w, m.trailing);
  return done(w, 'ping');
}

export function decodePong(bytes: Uint8Array): PongMessage {
  const r = start(bytes, MESSAGE_TYPES.pong, 'pong');
  const ignored = u16Bytes(r, 'ignored');
  return { type: 'pong', ignored, ...trailingOf(r) };
}

export function encodePong(m: PongMessage): Uint8Array {
  const w = header(MESSAGE_TYPES.pong).u16Bytes(m.ignored, 'ignored');
  writeTrailing(w, m.trailing);
  return done(w, 'pong');
}

function decodePeerStorage(bytes: Uint8Array, kind: 'peer_storage' | 'peer_storage_retrieval'): PeerStorageMessage {
  const r = start(bytes, MESSAGE_TYPES[kind], kind);
  const blob = u16Bytes(r, 'blob');
  return { type: kind, blob, ...trailingOf(r) };
}

export function encodePeerStorage(m: PeerStorageMessage): Uint8Array {
  const w = header(MESSAGE_TYPES[m.type]).u16Bytes(m.blob, 'blob');
  writeTrailing(w, m.trailing);
  return done(w, m.type);
}

// ---- BOLT 7 -----------------------------------------------------------------------------------------

export function decodeChannelAnnouncement(bytes: Uint8Array): ChannelAnnouncement {
  const r = start(bytes, MESSAGE_TYPES.channel_announcement, 'channel_announcement');
  const nodeSignature1 = r.bytes(64, 'node_signature_1');
  const nodeSignature2 = r.bytes(64, 'node_signature_2');
  const bitcoinSignature1 = r.bytes(64, 'bitcoin_signature_1');
  const bitcoinSignature2 = r.bytes(64, 'bitcoin_signature_2');
  const features = u16Bytes(r, 'features');
  const chainHash = r.bytes(32, 'chain_hash');
  const shortChannelId = r.u64('short_channel_id');
  const nodeId1 = r.bytes(33, 'node_id_1');
  const nodeId2 = r.bytes(33, 'node_id_2');
  const bitcoinKey1 = r.bytes(33, 'bitcoin_key_1');
  const bitcoinKey2 = r.bytes(33, 'bitcoin_key_2');
  return {
    type: 'channel_announcement',
    nodeSignature1,
    nodeSignature2,
    bitcoinSignature1,
    bitcoinSignature2,
    features,
    chainHash,
    shortChannelId,
    nodeId1,
    nodeId2,
    bitcoinKey1,
    bitcoinKey2,
    ...trailingOf(r),
  };
}

export function encodeChannelAnnouncement(m: ChannelAnnouncement): Uint8Array {
  const w = header(MESSAGE_TYPES.channel_announcement, 432 + m.features.length)
    .fixed(m.nodeSignature1, 64, 'node_signature_1')
    .fixed(m.nodeSignature2, 64, 'node_signature_2')
    .fixed(m.bitcoinSignature1, 64, 'bitcoin_signature_1')
    .fixed(m.bitcoinSignature2, 64, 'bitcoin_signature_2')
    .u16Bytes(m.features, 'features')
    .fixed(m.chainHash, 32, 'chain_hash')
    .u64(m.shortChannelId, 'short_channel_id')
    .fixed(m.nodeId1, 33, 'node_id_1')
    .fixed(m.nodeId2, 33, 'node_id_2')
    .fixed(m.bitcoinKey1, 33, 'bitcoin_key_1')
    .fixed(m.bitcoinKey2, 33, 'bitcoin_key_2');
  writeTrailing(w, m.trailing);
  return done(w, 'channel_announcement');
}

export function decodeNodeAnnouncement(bytes: Uint8Array): NodeAnnouncement {
  const r = start(bytes, MESSAGE_TYPES.node_announcement, 'node_announcement');
  const signature = r.bytes(64, 'signature');
  const features = u16Bytes(r, 'features');
  const timestamp = r.u32('timestamp');
  const nodeId = r.bytes(33, 'node_id');
  const rgbColor = r.bytes(3, 'rgb_color');
  const alias = r.bytes(32, 'alias');
  const addrLen = r.u16('addrlen');
  const parsed = parseAddresses(r.view(addrLen, 'addresses'));
  return {
    type: 'node_announcement',
    signature,
    features,
    timestamp,
    nodeId,
    rgbColor,
    alias,
    addresses: parsed.addresses,
    ...(parsed.tail.length > 0 ? { addressesTail: parsed.tail } : {}),
    ...trailingOf(r),
  };
}

export function encodeNodeAnnouncement(m: NodeAnnouncement): Uint8Array {
  const w = header(MESSAGE_TYPES.node_announcement, 256)
    .fixed(m.signature, 64, 'signature')
    .u16Bytes(m.features, 'features')
    .u32(m.timestamp, 'timestamp')
    .fixed(m.nodeId, 33, 'node_id')
    .fixed(m.rgbColor, 3, 'rgb_color')
    .fixed(m.alias, 32, 'alias')
    .u16Bytes(encodeAddresses(m.addresses, m.addressesTail), 'addresses');
  writeTrailing(w, m.trailing);
  return done(w, 'node_announcement');
}

export function decodeChannelUpdate(bytes: Uint8Array): ChannelUpdate {
  const r = start(bytes, MESSAGE_TYPES.channel_update, 'channel_update');
  const signature = r.bytes(64, 'signature');
  const chainHash = r.bytes(32, 'chain_hash');
  const shortChannelId = r.u64('short_channel_id');
  const timestamp = r.u32('timestamp');
  const messageFlags = r.u8('message_flags');
  const channelFlags = r.u8('channel_flags');
  const cltvExpiryDelta = r.u16('cltv_expiry_delta');
  const htlcMinimumMsat = r.u64('htlc_minimum_msat');
  const feeBaseMsat = r.u32('fee_base_msat');
  const feeProportionalMillionths = r.u32('fee_proportional_millionths');
  // Before option_channel_htlc_max became mandatory, message_flags bit 0 said whether the field exists.
  const htlcMaximumMsat = messageFlags & 1 ? r.u64('htlc_maximum_msat') : undefined;
  return {
    type: 'channel_update',
    signature,
    chainHash,
    shortChannelId,
    timestamp,
    messageFlags,
    channelFlags,
    cltvExpiryDelta,
    htlcMinimumMsat,
    feeBaseMsat,
    feeProportionalMillionths,
    ...(htlcMaximumMsat !== undefined ? { htlcMaximumMsat } : {}),
    ...trailingOf(r),
  };
}

export function encodeChannelUpdate(m: ChannelUpdate): Uint8Array {
  const w = header(MESSAGE_TYPES.channel_update, 160)
    .fixed(m.signature, 64, 'signature')
    .fixed(m.chainHash, 32, 'chain_hash')
    .u64(m.shortChannelId, 'short_channel_id')
    .u32(m.timestamp, 'timestamp')
    .u8(m.messageFlags, 'message_flags')
    .u8(m.channelFlags, 'channel_flags')
    .u16(m.cltvExpiryDelta, 'cltv_expiry_delta')
    .u64(m.htlcMinimumMsat, 'htlc_minimum_msat')
    .u32(m.feeBaseMsat, 'fee_base_msat')
    .u32(m.feeProportionalMillionths, 'fee_proportional_millionths');
  if (m.messageFlags & 1) {
    if (m.htlcMaximumMsat === undefined) throw new WireError('bad-value', 'channel_update: message_flags bit 0 set but no htlc_maximum_msat');
    w.u64(m.htlcMaximumMsat, 'htlc_maximum_msat');
  } else if (m.htlcMaximumMsat !== undefined) {
    throw new WireError('bad-value', 'channel_update: htlc_maximum_msat given but message_flags bit 0 (must_be_one) is clear');
  }
  writeTrailing(w, m.trailing);
  return done(w, 'channel_update');
}

export function decodeAnnouncementSignatures(bytes: Uint8Array): AnnouncementSignatures {
  const r = start(bytes, MESSAGE_TYPES.announcement_signatures, 'announcement_signatures');
  const channelId = r.bytes(32, 'channel_id');
  const shortChannelId = r.u64('short_channel_id');
  const nodeSignature = r.bytes(64, 'node_signature');
  const bitcoinSignature = r.bytes(64, 'bitcoin_signature');
  return { type: 'announcement_signatures', channelId, shortChannelId, nodeSignature, bitcoinSignature, ...trailingOf(r) };
}

export function encodeAnnouncementSignatures(m: AnnouncementSignatures): Uint8Array {
  const w = header(MESSAGE_TYPES.announcement_signatures, 170)
    .fixed(m.channelId, 32, 'channel_id')
    .u64(m.shortChannelId, 'short_channel_id')
    .fixed(m.nodeSignature, 64, 'node_signature')
    .fixed(m.bitcoinSignature, 64, 'bitcoin_signature');
  writeTrailing(w, m.trailing);
  return done(w, 'announcement_signatures');
}

const QSCID_TLVS = [1n] as const;

export function decodeQueryShortChannelIds(bytes: Uint8Array): QueryShortChannelIds {
  const r = start(bytes, MESSAGE_TYPES.query_short_channel_ids, 'query_short_channel_ids');
  const chainHash = r.bytes(32, 'chain_hash');
  const shortChannelIds = decodeShortIdList(r.view(r.u16('len'), 'encoded_short_ids'));
  const tlvs = readTlvStream(r, (t) => t === 1n);
  const flags = tlvs.find((x) => x.type === 1n);
  return {
    type: 'query_short_channel_ids',
    chainHash,
    shortChannelIds,
    ...(flags ? { queryFlags: decodeQueryFlagList(flags.value) } : {}),
    ...extraOf(tlvs, QSCID_TLVS),
  };
}

export function encodeQueryShortChannelIds(m: QueryShortChannelIds): Uint8Array {
  const w = header(MESSAGE_TYPES.query_short_channel_ids, 64 + m.shortChannelIds.values.length * 8)
    .fixed(m.chainHash, 32, 'chain_hash')
    .u16Bytes(encodeShortIdList(m.shortChannelIds), 'encoded_short_ids');
  const known: TlvRecord[] = m.queryFlags ? [{ type: 1n, value: encodeQueryFlagList(m.queryFlags) }] : [];
  writeTlvStream(w, mergeTlvs(known, m.extraTlvs));
  return done(w, 'query_short_channel_ids');
}

export function decodeReplyShortChannelIdsEnd(bytes: Uint8Array): ReplyShortChannelIdsEnd {
  const r = start(bytes, MESSAGE_TYPES.reply_short_channel_ids_end, 'reply_short_channel_ids_end');
  const chainHash = r.bytes(32, 'chain_hash');
  const fullInformation = r.u8('full_information');
  return { type: 'reply_short_channel_ids_end', chainHash, fullInformation, ...trailingOf(r) };
}

export function encodeReplyShortChannelIdsEnd(m: ReplyShortChannelIdsEnd): Uint8Array {
  const w = header(MESSAGE_TYPES.reply_short_channel_ids_end).fixed(m.chainHash, 32, 'chain_hash').u8(m.fullInformation, 'full_information');
  writeTrailing(w, m.trailing);
  return done(w, 'reply_short_channel_ids_end');
}

const QCR_TLVS = [1n] as const;

export function decodeQueryChannelRange(bytes: Uint8Array): QueryChannelRange {
  const r = start(bytes, MESSAGE_TYPES.query_channel_range, 'query_channel_range');
  const chainHash = r.bytes(32, 'chain_hash');
  const firstBlocknum = r.u32('first_blocknum');
  const numberOfBlocks = r.u32('number_of_blocks');
  const tlvs = readTlvStream(r, (t) => t === 1n);
  const opt = tlvs.find((x) => x.type === 1n);
  let queryOption: bigint | undefined;
  if (opt) {
    const or = new ByteReader(opt.value);
    queryOption = or.bigSize('query_option_flags');
    if (!or.done) throw new WireError('bad-value', 'query_option: bytes after the flags');
  }
  return {
    type: 'query_channel_range',
    chainHash,
    firstBlocknum,
    numberOfBlocks,
    ...(queryOption !== undefined ? { queryOption } : {}),
    ...extraOf(tlvs, QCR_TLVS),
  };
}

export function encodeQueryChannelRange(m: QueryChannelRange): Uint8Array {
  const w = header(MESSAGE_TYPES.query_channel_range)
    .fixed(m.chainHash, 32, 'chain_hash')
    .u32(m.firstBlocknum, 'first_blocknum')
    .u32(m.numberOfBlocks, 'number_of_blocks');
  const known: TlvRecord[] = [];
  if (m.queryOption !== undefined) known.push({ type: 1n, value: new ByteWriter(9).bigSize(m.queryOption).finish() });
  writeTlvStream(w, mergeTlvs(known, m.extraTlvs));
  return done(w, 'query_channel_range');
}

const RCR_TLVS = [1n, 3n] as const;

export function decodeReplyChannelRange(bytes: Uint8Array): ReplyChannelRange {
  const r = start(bytes, MESSAGE_TYPES.reply_channel_range, 'reply_channel_range');
  const chainHash = r.bytes(32, 'chain_hash');
  const firstBlocknum = r.u32('first_blocknum');
  const numberOfBlocks = r.u32('number_of_blocks');
  const syncComplete = r.u8('sync_complete');
  const shortChannelIds = decodeShortIdList(r.view(r.u16('len'), 'encoded_short_ids'));
  const tlvs = readTlvStream(r, (t) => t === 1n || t === 3n);
  let timestamps: EncodedList<TimestampPair> | undefined;
  let checksums: ChecksumPair[] | undefined;
  for (const rec of tlvs) {
    if (rec.type === 1n) timestamps = decodeTimestampList(rec.value);
    else if (rec.type === 3n) checksums = decodeChecksumList(rec.value);
  }
  return {
    type: 'reply_channel_range',
    chainHash,
    firstBlocknum,
    numberOfBlocks,
    syncComplete,
    shortChannelIds,
    ...(timestamps ? { timestamps } : {}),
    ...(checksums ? { checksums } : {}),
    ...extraOf(tlvs, RCR_TLVS),
  };
}

export function encodeReplyChannelRange(m: ReplyChannelRange): Uint8Array {
  const w = header(MESSAGE_TYPES.reply_channel_range, 128 + m.shortChannelIds.values.length * 16)
    .fixed(m.chainHash, 32, 'chain_hash')
    .u32(m.firstBlocknum, 'first_blocknum')
    .u32(m.numberOfBlocks, 'number_of_blocks')
    .u8(m.syncComplete, 'sync_complete')
    .u16Bytes(encodeShortIdList(m.shortChannelIds), 'encoded_short_ids');
  const known: TlvRecord[] = [];
  if (m.timestamps) known.push({ type: 1n, value: encodeTimestampList(m.timestamps) });
  if (m.checksums) known.push({ type: 3n, value: encodeChecksumList(m.checksums) });
  writeTlvStream(w, mergeTlvs(known, m.extraTlvs));
  return done(w, 'reply_channel_range');
}

export function decodeGossipTimestampFilter(bytes: Uint8Array): GossipTimestampFilter {
  const r = start(bytes, MESSAGE_TYPES.gossip_timestamp_filter, 'gossip_timestamp_filter');
  const chainHash = r.bytes(32, 'chain_hash');
  const firstTimestamp = r.u32('first_timestamp');
  const timestampRange = r.u32('timestamp_range');
  return { type: 'gossip_timestamp_filter', chainHash, firstTimestamp, timestampRange, ...trailingOf(r) };
}

export function encodeGossipTimestampFilter(m: GossipTimestampFilter): Uint8Array {
  const w = header(MESSAGE_TYPES.gossip_timestamp_filter)
    .fixed(m.chainHash, 32, 'chain_hash')
    .u32(m.firstTimestamp, 'first_timestamp')
    .u32(m.timestampRange, 'timestamp_range');
  writeTrailing(w, m.trailing);
  return done(w, 'gossip_timestamp_filter');
}

// ---- BOLT 2 (raw) -----------------------------------------------------------------------------------

export function decodeChannelMessage(bytes: Uint8Array, name: ChannelMessageName): ChannelMessage {
  const wireType = MESSAGE_TYPES[name];
  const r = start(bytes, wireType, name);
  const offset = channelIdOffset(wireType);
  if (offset > 0) r.view(offset, 'chain_hash');
  const channelId = r.bytes(32, 'channel_id');
  return { type: name, wireType, channelId, bytes: bytes.slice() };
}

export function encodeChannelMessage(m: ChannelMessage): Uint8Array {
  if (m.bytes.length > MAX_MESSAGE_LENGTH) throw new WireError('too-long', `${m.type}: ${m.bytes.length} bytes`);
  if (m.bytes.length < 2 || ((m.bytes[0]! << 8) | m.bytes[1]!) !== m.wireType) throw new WireError('bad-value', `${m.type}: bytes do not start with type ${m.wireType}`);
  return m.bytes.slice();
}

// ---- dispatch ---------------------------------------------------------------------------------------

/** The u16 type of a wire message (throws 'truncated' on fewer than 2 bytes). */
export function peekMessageType(bytes: Uint8Array): number {
  if (bytes.length < 2) throw new WireError('truncated', `message of ${bytes.length} bytes has no type`);
  return (bytes[0]! << 8) | bytes[1]!;
}

/**
 * Decodes one wire message (type included). Unknown odd types come back as `unknown`; unknown even types
 * throw WireError('unknown-even-type'): BOLT 1 says to close the connection. Never throws anything but WireError.
 */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  const type = peekMessageType(bytes);
  const name = knownMessageName(type);
  switch (name) {
    case 'init':
      return decodeInit(bytes);
    case 'error':
      return decodeError(bytes);
    case 'warning':
      return decodeWarning(bytes);
    case 'ping':
      return decodePing(bytes);
    case 'pong':
      return decodePong(bytes);
    case 'peer_storage':
    case 'peer_storage_retrieval':
      return decodePeerStorage(bytes, name);
    case 'channel_announcement':
      return decodeChannelAnnouncement(bytes);
    case 'node_announcement':
      return decodeNodeAnnouncement(bytes);
    case 'channel_update':
      return decodeChannelUpdate(bytes);
    case 'announcement_signatures':
      return decodeAnnouncementSignatures(bytes);
    case 'query_short_channel_ids':
      return decodeQueryShortChannelIds(bytes);
    case 'reply_short_channel_ids_end':
      return decodeReplyShortChannelIdsEnd(bytes);
    case 'query_channel_range':
      return decodeQueryChannelRange(bytes);
    case 'reply_channel_range':
      return decodeReplyChannelRange(bytes);
    case 'gossip_timestamp_filter':
      return decodeGossipTimestampFilter(bytes);
    case undefined:
    case 'onion_message':
      break;
    default:
      return decodeChannelMessage(bytes, name);
  }
  if (bytes.length > MAX_MESSAGE_LENGTH) throw new WireError('too-long', `message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  if ((type & 1) === 0) throw new WireError('unknown-even-type', `unknown even message type ${type}`);
  return { type: 'unknown', wireType: type, payload: bytes.slice(2) };
}

/** Encodes any WireMessage; a decoded message re-encodes to its original bytes. */
export function encodeMessage(m: WireMessage): Uint8Array {
  switch (m.type) {
    case 'init':
      return encodeInit(m);
    case 'error':
    case 'warning':
      return encodeError(m);
    case 'ping':
      return encodePing(m);
    case 'pong':
      return encodePong(m);
    case 'peer_storage':
    case 'peer_storage_retrieval':
      return encodePeerStorage(m);
    case 'channel_announcement':
      return encodeChannelAnnouncement(m);
    case 'node_announcement':
      return encodeNodeAnnouncement(m);
    case 'channel_update':
      return encodeChannelUpdate(m);
    case 'announcement_signatures':
      return encodeAnnouncementSignatures(m);
    case 'query_short_channel_ids':
      return encodeQueryShortChannelIds(m);
    case 'reply_short_channel_ids_end':
      return encodeReplyShortChannelIdsEnd(m);
    case 'query_channel_range':
      return encodeQueryChannelRange(m);
    case 'reply_channel_range':
      return encodeReplyChannelRange(m);
    case 'gossip_timestamp_filter':
      return encodeGossipTimestampFilter(m);
    case 'unknown': {
      if (!Number.isInteger(m.wireType) || m.wireType < 0 || m.wireType > 0xffff) throw new WireError('bad-value', `message type ${m.wireType}`);
      const w = header(m.wireType, m.payload.length + 2).bytes(m.payload);
      return done(w, 'unknown');
    }
    default:
      return encodeChannelMessage(m);
  }
}

/**
 * The bytes a gossip signature covers (BOLT 7: double-SHA256 of what follows the signature fields, trailing
 * bytes included): channel_announcement from offset 258, node_announcement and channel_update from 66.
 * A zero-copy view into `bytes` (the whole message, type included).
 */
export function gossipSignedBytes(bytes: Uint8Array): Uint8Array {
  const type = peekMessageType(bytes);
  const offset = type === MESSAGE_TYPES.channel_announcement ? 258 : type === MESSAGE_TYPES.node_announcement || type === MESSAGE_TYPES.channel_update ? 66 : -1;
  if (offset < 0) throw new WireError('bad-value', `type ${type} is not a signed gossip message`);
  if (bytes.length < offset) throw new WireError('truncated', `gossip message of ${bytes.length} bytes has no signed part`);
  return bytes.subarray(offset);
}
