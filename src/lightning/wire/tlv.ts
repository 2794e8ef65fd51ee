import { WireError } from './errors.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';

/** One TLV record; `value` is a copy of the record's bytes. */
export interface TlvRecord {
  readonly type: bigint;
  readonly value: Uint8Array;
}

/**
 * Reads a TLV stream that fills the rest of `r` (BOLT 1): minimal BigSize type and length, strictly
 * increasing types, length within the input, unknown even types rejected. `isKnown` tells which types
 * the caller's namespace understands; unknown odd records are returned too so they can be re-encoded.
 */
export function readTlvStream(r: ByteReader, isKnown: (type: bigint) => boolean = () => false): TlvRecord[] {
  const out: TlvRecord[] = [];
  let last = -1n;
  while (!r.done) {
    const type = r.bigSize('tlv type');
    if (type <= last) throw new WireError('tlv-order', `tlv type ${type} after ${last}: types must strictly increase`);
    last = type;
    const length = r.bigSize('tlv length');
    if (length > BigInt(r.remaining)) {
      throw new WireError('truncated', `tlv ${type} value truncated: length ${length}, ${r.remaining} bytes left`);
    }
    const value = r.bytes(Number(length), 'tlv value');
    if ((type & 1n) === 0n && !isKnown(type)) throw new WireError('unknown-even-tlv', `unknown even tlv type ${type}`);
    out.push({ type, value });
  }
  return out;
}

export function decodeTlvStream(bytes: Uint8Array, isKnown?: (type: bigint) => boolean): TlvRecord[] {
  return readTlvStream(new ByteReader(bytes), isKnown);
}

/** Writes records, which must already be in strictly increasing type order (we never reorder silently). */
export function writeTlvStream(w: ByteWriter, records: readonly TlvRecord[]): void {
  let last = -1n;
  for (const rec of records) {
    if (rec.type <= last) throw new WireError('tlv-order', `tlv type ${rec.type} after ${last}: types must strictly increase`);
    last = rec.type;
    w.bigSize(rec.type).bigSize(rec.value.length).bytes(rec.value);
  }
}

export function encodeTlvStream(records: readonly TlvRecord[]): Uint8Array {
  const w = new ByteWriter();
  writeTlvStream(w, records);
  return w.finish();
}

/** Merges a message's known records with its kept unknown ones, sorted by type (duplicates rejected). */
export function mergeTlvs(known: readonly TlvRecord[], extra: readonly TlvRecord[] | undefined): TlvRecord[] {
  const all = extra && extra.length > 0 ? [...known, ...extra] : [...known];
  all.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return all;
}

/** Helper for messages: the records whose type is not in `known` (odd unknowns, kept for re-encoding). */
export function unknownTlvs(records: readonly TlvRecord[], known: readonly bigint[]): TlvRecord[] {
  return records.filter((r) => !known.includes(r.type));
}
