// BOLT 7 extended-queries.json (test/fixtures/bolt07): every vector decodes to its stated content and
// encodes back exactly, both from the decoded message and from a message built from the JSON alone.
import test from 'ava';
import {
  decodeMessage,
  encodeMessage,
  scidFromString,
  scidToString,
  type EncodedList,
  type QueryChannelRange,
  type QueryShortChannelIds,
  type ReplyChannelRange,
  type WireMessage,
} from '../../src/lightning/wire/index.js';
import { fixtureText, hex, toHex } from './helpers.js';

interface JsonList {
  readonly array: (string | number)[];
  readonly encoding: 'UNCOMPRESSED' | 'COMPRESSED_ZLIB';
}
interface JsonVector {
  readonly hex: string;
  readonly msg: {
    readonly type: 'QueryChannelRange' | 'ReplyChannelRange' | 'QueryShortChannelIds';
    readonly chainHash: string;
    readonly firstBlockNum?: number;
    readonly numberOfBlocks?: number;
    readonly complete?: number;
    readonly shortChannelIds?: JsonList;
    readonly timestamps?: { encoding: JsonList['encoding']; timestamps: { timestamp1: number; timestamp2: number }[] };
    readonly checksums?: { checksums: { checksum1: number; checksum2: number }[] };
    readonly tlvStream?: { records: (string | JsonList)[]; unknown: unknown[] };
  };
}

const vectors: JsonVector[] = JSON.parse(fixtureText('bolt07/extended-queries.json'));
const enc = (e: JsonList['encoding']) => (e === 'UNCOMPRESSED' ? 0 : 1);
// Eclair prints a short_channel_id as "blockxtxxout" too.
const scids = (l: JsonList): EncodedList<bigint> => ({ encoding: enc(l.encoding), values: l.array.map((s) => scidFromString(String(s))) });

function fromJson(v: JsonVector): WireMessage {
  const m = v.msg;
  const chainHash = hex(m.chainHash);
  if (m.type === 'QueryChannelRange') {
    const rec = m.tlvStream!.records[0];
    const q: QueryChannelRange = { type: 'query_channel_range', chainHash, firstBlocknum: m.firstBlockNum!, numberOfBlocks: m.numberOfBlocks! };
    if (rec === undefined) return q;
    const flags = String(rec).split('|').map((s) => s.trim());
    const option = (flags.includes('WANT_TIMESTAMPS') ? 1n : 0n) | (flags.includes('WANT_CHECKSUMS') ? 2n : 0n);
    return { ...q, queryOption: option };
  }
  if (m.type === 'ReplyChannelRange') {
    const r: ReplyChannelRange = {
      type: 'reply_channel_range',
      chainHash,
      firstBlocknum: m.firstBlockNum!,
      numberOfBlocks: m.numberOfBlocks!,
      syncComplete: m.complete!,
      shortChannelIds: scids(m.shortChannelIds!),
      ...(m.timestamps ? { timestamps: { encoding: enc(m.timestamps.encoding), values: m.timestamps.timestamps } } : {}),
      ...(m.checksums ? { checksums: m.checksums.checksums } : {}),
    };
    return r;
  }
  const rec = m.tlvStream!.records[0] as JsonList | undefined;
  const q: QueryShortChannelIds = {
    type: 'query_short_channel_ids',
    chainHash,
    shortChannelIds: scids(m.shortChannelIds!),
    ...(rec ? { queryFlags: { encoding: enc(rec.encoding), values: rec.array.map(Number) } } : {}),
  };
  return q;
}

test('extended-queries.json: every vector decodes, matches its JSON form and re-encodes exactly', (t) => {
  t.is(vectors.length, 10);
  let zlib = 0;
  for (const v of vectors) {
    const bytes = hex(v.hex);
    const decoded = decodeMessage(bytes);
    t.is(toHex(encodeMessage(decoded)), v.hex, `re-encode ${v.msg.type}`);
    const expected = fromJson(v);
    t.is(decoded.type, expected.type);
    if (decoded.type === 'reply_channel_range' || decoded.type === 'query_short_channel_ids') {
      t.deepEqual(decoded.shortChannelIds.values.map(scidToString), v.msg.shortChannelIds!.array);
      if (decoded.shortChannelIds.encoding === 1) zlib++;
    }
    // Compare field by field, ignoring the kept `compressed` bytes.
    const strip = (m: WireMessage) => JSON.parse(JSON.stringify(m, (k, val) => (k === 'compressed' ? undefined : typeof val === 'bigint' ? val.toString() : val instanceof Uint8Array ? toHex(val) : val)));
    t.deepEqual(strip(decoded), strip(expected), v.hex);
    // Encoding from the JSON alone (zlib recompressed by node:zlib at the default level) is byte-exact too.
    t.is(toHex(encodeMessage(expected)), v.hex, `encode from JSON ${v.msg.type}`);
  }
  t.is(zlib, 4);
});
