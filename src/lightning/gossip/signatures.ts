import { hash256, type CryptoProvider } from '../crypto/index.js';
import {
  decodeChannelAnnouncement,
  decodeChannelUpdate,
  decodeNodeAnnouncement,
  encodeChannelAnnouncement,
  encodeChannelUpdate,
  encodeNodeAnnouncement,
  gossipSignedBytes,
  MESSAGE_TYPES,
  peekMessageType,
  type ChannelAnnouncement,
  type ChannelUpdate,
  type NodeAnnouncement,
} from '../wire/index.js';

/**
 * BOLT 7 gossip signatures. Every signature covers the double SHA-256 of the raw message bytes after the
 * signature field(s), trailing bytes included (39% of mainnet channel_updates carry LND's inbound-fee TLV
 * there). We hash the bytes as received and never re-encode: a re-encoding that differed by one byte
 * would turn a valid message into a rejected one.
 */

/** Which signature of a message failed. */
export type SignatureField = 'node_signature_1' | 'node_signature_2' | 'bitcoin_signature_1' | 'bitcoin_signature_2' | 'signature';

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly field: SignatureField };

const OK: SignatureCheck = Object.freeze({ ok: true });

/** The digest a gossip signature covers: double SHA-256 of `msg[258:]` or `msg[66:]`. */
export function gossipDigest(crypto: CryptoProvider, message: Uint8Array): Uint8Array {
  return hash256(crypto, gossipSignedBytes(message));
}

/**
 * Verifies the four signatures of a channel_announcement (throws WireError when `message` does not decode;
 * the verify functions never throw on bad keys or signatures). `decoded` avoids decoding twice when the caller
 * already has the fields (it must be the decoding of `message`).
 */
export function verifyChannelAnnouncement(crypto: CryptoProvider, message: Uint8Array, decoded?: ChannelAnnouncement): SignatureCheck {
  const m = decoded ?? decodeChannelAnnouncement(message);
  const digest = gossipDigest(crypto, message);
  if (!crypto.verify(m.nodeSignature1, digest, m.nodeId1)) return { ok: false, field: 'node_signature_1' };
  if (!crypto.verify(m.nodeSignature2, digest, m.nodeId2)) return { ok: false, field: 'node_signature_2' };
  if (!crypto.verify(m.bitcoinSignature1, digest, m.bitcoinKey1)) return { ok: false, field: 'bitcoin_signature_1' };
  if (!crypto.verify(m.bitcoinSignature2, digest, m.bitcoinKey2)) return { ok: false, field: 'bitcoin_signature_2' };
  return OK;
}

export function verifyNodeAnnouncement(crypto: CryptoProvider, message: Uint8Array, decoded?: NodeAnnouncement): SignatureCheck {
  const m = decoded ?? decodeNodeAnnouncement(message);
  return crypto.verify(m.signature, gossipDigest(crypto, message), m.nodeId) ? OK : { ok: false, field: 'signature' };
}

/** 0 when node_id_1 signed the update (channel_flags bit 0 clear), 1 for node_id_2. */
export function channelUpdateDirection(update: Pick<ChannelUpdate, 'channelFlags'>): 0 | 1 {
  return (update.channelFlags & 1) as 0 | 1;
}

/**
 * Verifies a channel_update against the node ids of its channel's announcement: the signer is node_id_1
 * when `channel_flags & 1 == 0`, node_id_2 otherwise.
 */
export function verifyChannelUpdate(
  crypto: CryptoProvider,
  message: Uint8Array,
  nodeIds: { readonly nodeId1: Uint8Array; readonly nodeId2: Uint8Array },
  decoded?: ChannelUpdate,
): SignatureCheck {
  const m = decoded ?? decodeChannelUpdate(message);
  const signer = channelUpdateDirection(m) === 0 ? nodeIds.nodeId1 : nodeIds.nodeId2;
  return verifyChannelUpdateBy(crypto, message, signer, m);
}

/** Verifies a channel_update against a known signer (e.g. one of our own channels, or a recovered key). */
export function verifyChannelUpdateBy(crypto: CryptoProvider, message: Uint8Array, signer: Uint8Array, decoded?: ChannelUpdate): SignatureCheck {
  const m = decoded ?? decodeChannelUpdate(message);
  return crypto.verify(m.signature, gossipDigest(crypto, message), signer) ? OK : { ok: false, field: 'signature' };
}

// ---- signing our own messages -------------------------------------------------------------------------

const ZERO_SIGNATURE = new Uint8Array(64);

/** Writes `signature` into a message whose signature field sits at bytes 2..66 (node_announcement, channel_update). */
function signInPlace(crypto: CryptoProvider, message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const signature = crypto.sign(gossipDigest(crypto, message), secretKey);
  message.set(signature, 2);
  return message;
}

/**
 * Encodes and signs a node_announcement with `secretKey` (the node key). The `signature` of `fields` is
 * ignored; the returned bytes are the wire message, type included.
 */
export function signNodeAnnouncement(crypto: CryptoProvider, fields: Omit<NodeAnnouncement, 'signature' | 'type'>, secretKey: Uint8Array): Uint8Array {
  const unsigned = encodeNodeAnnouncement({ ...fields, type: 'node_announcement', signature: ZERO_SIGNATURE });
  return signInPlace(crypto, unsigned, secretKey);
}

/** Encodes and signs a channel_update with the key of the node at its direction's end. */
export function signChannelUpdate(crypto: CryptoProvider, fields: Omit<ChannelUpdate, 'signature' | 'type'>, secretKey: Uint8Array): Uint8Array {
  const unsigned = encodeChannelUpdate({ ...fields, type: 'channel_update', signature: ZERO_SIGNATURE });
  return signInPlace(crypto, unsigned, secretKey);
}

export interface ChannelAnnouncementKeys {
  readonly node1: Uint8Array;
  readonly node2: Uint8Array;
  readonly bitcoin1: Uint8Array;
  readonly bitcoin2: Uint8Array;
}

/** Encodes and signs a channel_announcement with the four secret keys (tests, benchmarks, our own channels). */
export function signChannelAnnouncement(
  crypto: CryptoProvider,
  fields: Omit<ChannelAnnouncement, 'type' | 'nodeSignature1' | 'nodeSignature2' | 'bitcoinSignature1' | 'bitcoinSignature2'>,
  keys: ChannelAnnouncementKeys,
): Uint8Array {
  const message = encodeChannelAnnouncement({
    ...fields,
    type: 'channel_announcement',
    nodeSignature1: ZERO_SIGNATURE,
    nodeSignature2: ZERO_SIGNATURE,
    bitcoinSignature1: ZERO_SIGNATURE,
    bitcoinSignature2: ZERO_SIGNATURE,
  });
  const digest = gossipDigest(crypto, message);
  [keys.node1, keys.node2, keys.bitcoin1, keys.bitcoin2].forEach((key, i) => message.set(crypto.sign(digest, key), 2 + 64 * i));
  return message;
}

/** True for the three signed gossip types (256, 257, 258). */
export function isSignedGossip(message: Uint8Array): boolean {
  if (message.length < 2) return false;
  const type = peekMessageType(message);
  return type === MESSAGE_TYPES.channel_announcement || type === MESSAGE_TYPES.node_announcement || type === MESSAGE_TYPES.channel_update;
}
