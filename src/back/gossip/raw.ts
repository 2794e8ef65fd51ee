/**
 * Fixed offsets into raw gossip messages (type included), for reading the few fields the table keeps
 * without decoding. Callers only use these on messages that were decoded (validated) once already.
 */

/** channel_update: type(2) signature(64) chain_hash(32) short_channel_id(8) timestamp(4) message_flags channel_flags ... */
export const UPDATE_SCID_AT = 98;
export const UPDATE_TIMESTAMP_AT = 106;
export const UPDATE_CHANNEL_FLAGS_AT = 111;
/** Where the "fields below timestamp" (BOLT 7) start: message_flags onward, trailing bytes included. */
export const UPDATE_PARAMS_AT = 110;
export const UPDATE_MIN_LENGTH = 130;

/** channel_announcement: type(2) 4 signatures(256) len(2) features chain_hash(32) scid(8) node_id_1 node_id_2 bitcoin_key_1 bitcoin_key_2. */
export const ANNOUNCEMENT_SIGNED_AT = 258;
export const ANNOUNCEMENT_MIN_LENGTH = 432;

/** node_announcement: type(2) signature(64) flen(2) features timestamp(4) node_id(33) ... */
export const NODE_SIGNED_AT = 66;

export function u32At(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function u16At(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function u64At(bytes: Uint8Array, at: number): bigint {
  return (BigInt(u32At(bytes, at)) << 32n) | BigInt(u32At(bytes, at + 4));
}

export function updateTimestamp(update: Uint8Array): number {
  return u32At(update, UPDATE_TIMESTAMP_AT);
}

export function updateDirection(update: Uint8Array): 0 | 1 {
  return (update[UPDATE_CHANNEL_FLAGS_AT]! & 1) as 0 | 1;
}

export function updateScid(update: Uint8Array): bigint {
  return u64At(update, UPDATE_SCID_AT);
}

export interface AnnouncementFields {
  readonly scid: bigint;
  readonly nodeId1: Uint8Array;
  readonly nodeId2: Uint8Array;
  readonly bitcoinKey1: Uint8Array;
  readonly bitcoinKey2: Uint8Array;
  readonly chainHash: Uint8Array;
}

/** Zero-copy views of a channel_announcement's fields; undefined when the bytes are too short. */
export function announcementFields(ann: Uint8Array): AnnouncementFields | undefined {
  if (ann.length < ANNOUNCEMENT_MIN_LENGTH) return undefined;
  const at = ANNOUNCEMENT_SIGNED_AT + 2 + u16At(ann, ANNOUNCEMENT_SIGNED_AT);
  if (ann.length < at + 32 + 8 + 4 * 33) return undefined;
  return {
    chainHash: ann.subarray(at, at + 32),
    scid: u64At(ann, at + 32),
    nodeId1: ann.subarray(at + 40, at + 73),
    nodeId2: ann.subarray(at + 73, at + 106),
    bitcoinKey1: ann.subarray(at + 106, at + 139),
    bitcoinKey2: ann.subarray(at + 139, at + 172),
  };
}

export interface NodeAnnouncementFields {
  readonly timestamp: number;
  readonly nodeId: Uint8Array;
}

export function nodeAnnouncementFields(ann: Uint8Array): NodeAnnouncementFields | undefined {
  if (ann.length < NODE_SIGNED_AT + 2) return undefined;
  const at = NODE_SIGNED_AT + 2 + u16At(ann, NODE_SIGNED_AT);
  if (ann.length < at + 4 + 33) return undefined;
  return { timestamp: u32At(ann, at), nodeId: ann.subarray(at + 4, at + 37) };
}

/** Byte equality of two ranges (no allocation). */
export function equalFrom(a: Uint8Array, b: Uint8Array, from: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = from; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A compact private copy: small Buffers come from Node's shared 8 KiB pool (no ArrayBuffer per message). */
export function ownCopy(bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
