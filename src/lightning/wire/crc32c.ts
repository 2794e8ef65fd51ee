import { WireError } from './errors.js';

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, as RFC 3720 B.4 specifies.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C of `data`; pass a previous result as `crc` to continue over several parts. */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const CHANNEL_UPDATE_TYPE = 258;
// Offsets in a channel_update message that starts with its 2-byte type.
const SIG_END = 2 + 64; // type || signature
const TIMESTAMP_AT = SIG_END + 32 + 8; // after chain_hash || short_channel_id
const MIN_UPDATE_LEN = TIMESTAMP_AT + 4 + 1 + 1 + 2 + 8 + 4 + 4; // up to fee_proportional_millionths

/**
 * The BOLT 7 reply_channel_range checksum of a channel_update: CRC32C over the message without its type,
 * signature and timestamp, i.e. chain_hash || short_channel_id || everything after the timestamp, trailing
 * bytes (e.g. LND's inbound-fee TLV) included, as Core Lightning and Eclair compute it.
 * `update` is the whole wire message starting with its type (258).
 */
export function channelUpdateChecksum(update: Uint8Array): number {
  if (update.length < MIN_UPDATE_LEN) throw new WireError('truncated', `channel_update of ${update.length} bytes is too short for a checksum`);
  const type = (update[0]! << 8) | update[1]!;
  if (type !== CHANNEL_UPDATE_TYPE) throw new WireError('bad-value', `not a channel_update: type ${type}`);
  const c = crc32c(update.subarray(SIG_END, TIMESTAMP_AT));
  return crc32c(update.subarray(TIMESTAMP_AT + 4), c);
}
