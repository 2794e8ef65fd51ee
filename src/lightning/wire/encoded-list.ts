import { deflateSync, inflateSync } from 'node:zlib';
import { WireError } from './errors.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';

/**
 * BOLT 7 `encoded_*` arrays (short ids, timestamps, query flags): an encoding byte, then the items.
 * Encoding 0 is the plain array; encoding 1 (zlib) is deprecated — peers MUST NOT send it — but we still
 * decode it (old Eclair peers, the extended-queries vectors). A decoded zlib list keeps its exact
 * compressed bytes in `compressed` so that it re-encodes byte-for-byte; drop that field if you change `values`.
 */
export type ListEncoding = 0 | 1;

export interface EncodedList<T> {
  readonly encoding: ListEncoding;
  readonly values: T[];
  readonly compressed?: Uint8Array;
}

/** Bounds zlib inflation: a 64 KiB message must not become a huge allocation (zlib bombs). */
export const MAX_INFLATED_BYTES = 1 << 20;

export interface TimestampPair {
  readonly timestamp1: number;
  readonly timestamp2: number;
}

export interface ChecksumPair {
  readonly checksum1: number;
  readonly checksum2: number;
}

function splitEncoding(bytes: Uint8Array, what: string): { encoding: ListEncoding; payload: Uint8Array; compressed?: Uint8Array } {
  if (bytes.length === 0) throw new WireError('truncated', `${what}: missing encoding byte`);
  const encoding = bytes[0]!;
  const body = bytes.subarray(1);
  if (encoding === 0) return { encoding: 0, payload: body };
  if (encoding === 1) return { encoding: 1, payload: inflate(body, what), compressed: body.slice() };
  throw new WireError('bad-value', `${what}: unknown encoding type ${encoding}`);
}

function inflate(body: Uint8Array, what: string): Uint8Array {
  try {
    return new Uint8Array(inflateSync(body, { maxOutputLength: MAX_INFLATED_BYTES }));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new WireError('bad-value', `${what}: zlib data does not inflate within ${MAX_INFLATED_BYTES} bytes: ${reason}`);
  }
}

function join<T>(encoding: ListEncoding, values: T[], compressed: Uint8Array | undefined): EncodedList<T> {
  return compressed ? { encoding, values, compressed } : { encoding, values };
}

export function decodeShortIdList(bytes: Uint8Array): EncodedList<bigint> {
  const { encoding, payload, compressed } = splitEncoding(bytes, 'encoded_short_ids');
  if (payload.length % 8 !== 0) throw new WireError('bad-value', `encoded_short_ids: ${payload.length} bytes is not a whole number of ids`);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const values = new Array<bigint>(payload.length / 8);
  for (let i = 0; i < values.length; i++) values[i] = dv.getBigUint64(i * 8);
  return join(encoding, values, compressed);
}

export function decodeTimestampList(bytes: Uint8Array): EncodedList<TimestampPair> {
  const { encoding, payload, compressed } = splitEncoding(bytes, 'encoded_timestamps');
  if (payload.length % 8 !== 0) throw new WireError('bad-value', `encoded_timestamps: ${payload.length} bytes is not a whole number of pairs`);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const values = new Array<TimestampPair>(payload.length / 8);
  for (let i = 0; i < values.length; i++) values[i] = { timestamp1: dv.getUint32(i * 8), timestamp2: dv.getUint32(i * 8 + 4) };
  return join(encoding, values, compressed);
}

/** Query flags are minimally encoded BigSizes; flags beyond 2^53 make no sense and are rejected. */
export function decodeQueryFlagList(bytes: Uint8Array): EncodedList<number> {
  const { encoding, payload, compressed } = splitEncoding(bytes, 'encoded_query_flags');
  const r = new ByteReader(payload);
  const values: number[] = [];
  while (!r.done) values.push(r.bigSizeNumber('query flag'));
  return join(encoding, values, compressed);
}

export function decodeChecksumList(bytes: Uint8Array): ChecksumPair[] {
  if (bytes.length % 8 !== 0) throw new WireError('bad-value', `checksums_tlv: ${bytes.length} bytes is not a whole number of pairs`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<ChecksumPair>(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = { checksum1: dv.getUint32(i * 8), checksum2: dv.getUint32(i * 8 + 4) };
  return out;
}

function withEncoding(list: EncodedList<unknown>, writeItems: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(list.encoding);
  if (list.encoding === 0) {
    writeItems(w);
    return w.finish();
  }
  if (list.encoding !== 1) throw new WireError('bad-value', `unknown list encoding ${String(list.encoding)}`);
  if (list.compressed) return w.bytes(list.compressed).finish();
  const plain = new ByteWriter(64);
  writeItems(plain);
  return w.bytes(new Uint8Array(deflateSync(plain.finish()))).finish();
}

export function encodeShortIdList(list: EncodedList<bigint>): Uint8Array {
  return withEncoding(list, (w) => {
    for (const v of list.values) w.u64(v, 'short_channel_id');
  });
}

export function encodeTimestampList(list: EncodedList<TimestampPair>): Uint8Array {
  return withEncoding(list, (w) => {
    for (const v of list.values) w.u32(v.timestamp1, 'timestamp').u32(v.timestamp2, 'timestamp');
  });
}

export function encodeQueryFlagList(list: EncodedList<number>): Uint8Array {
  return withEncoding(list, (w) => {
    for (const v of list.values) w.bigSize(v);
  });
}

export function encodeChecksumList(values: readonly ChecksumPair[]): Uint8Array {
  const w = new ByteWriter(values.length * 8 + 1);
  for (const v of values) w.u32(v.checksum1, 'checksum').u32(v.checksum2, 'checksum');
  return w.finish();
}
