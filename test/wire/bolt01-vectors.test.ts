// Every vector of BOLT 1 appendices A-D (test/fixtures/bolt01), failures included.
import test from 'ava';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import {
  ByteReader,
  ByteWriter,
  WireError,
  decodeBigSize,
  decodeInit,
  decodeMessage,
  decodeTu,
  encodeBigSize,
  encodeMessage,
  readTlvStream,
  type TlvRecord,
} from '../../src/lightning/wire/index.js';
import { fixtureText, hex, toHex } from './helpers.js';

const doc = fixtureText('bolt01/bolt01-appendixA-D-bigsize-tlv-signedint-vectors.md');

// JSON blocks hold u64 values beyond 2^53: quote them before parsing so they survive as bigint.
function jsonBlocks(): { name?: string; value: string; bytes: string; exp_error?: string }[][] {
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.map((b) => JSON.parse(b.replace(/"value": (-?\d+)/g, '"value": "$1"')));
}
const [bigsizeDecode, bigsizeEncode, signedInts] = jsonBlocks();

function section(title: string, nextTitle: string): string {
  const start = doc.indexOf(title);
  const end = doc.indexOf(nextTitle, start + title.length);
  if (start < 0 || end < 0) throw new Error(`section ${title} not found`);
  return doc.slice(start, end);
}

test('appendix A: every BigSize decoding vector, failures included', (t) => {
  t.is(bigsizeDecode!.length, 18);
  for (const v of bigsizeDecode!) {
    const r = new ByteReader(hex(v.bytes));
    if (v.exp_error) {
      const err = t.throws(() => r.bigSize(), { instanceOf: WireError }, v.name);
      const expected = v.exp_error.includes('canonical') ? 'non-canonical' : 'truncated';
      t.is(err?.code, expected, v.name);
    } else {
      t.is(r.bigSize(), BigInt(v.value), v.name);
      t.true(r.done, v.name);
      t.is(decodeBigSize(hex(v.bytes)), BigInt(v.value), v.name);
    }
  }
});

test('appendix A: every BigSize encoding vector', (t) => {
  t.is(bigsizeEncode!.length, 8);
  for (const v of bigsizeEncode!) {
    t.is(toHex(encodeBigSize(BigInt(v.value))), v.bytes, v.name);
    t.is(toHex(new ByteWriter().bigSize(BigInt(v.value)).finish()), v.bytes, v.name);
  }
  t.throws(() => encodeBigSize(1n << 64n), { instanceOf: WireError });
  t.throws(() => encodeBigSize(-1n), { instanceOf: WireError });
});

test('appendix D: every signed integer vector encodes and decodes at its width', (t) => {
  t.is(signedInts!.length, 23);
  for (const v of signedInts!) {
    const bytes = hex(v.bytes);
    const value = BigInt(v.value);
    const r = new ByteReader(bytes);
    const w = new ByteWriter();
    switch (bytes.length) {
      case 1:
        t.is(BigInt(r.s8()), value);
        w.s8(Number(value));
        break;
      case 2:
        t.is(BigInt(r.s16()), value);
        w.s16(Number(value));
        break;
      case 4:
        t.is(BigInt(r.s32()), value);
        w.s32(Number(value));
        break;
      case 8:
        t.is(r.s64(), value);
        w.s64(value);
        break;
      default:
        t.fail(`unexpected width ${bytes.length}`);
    }
    t.is(toHex(w.finish()), v.bytes, `encode ${v.value}`);
  }
  // The vectors use the smallest width that holds the value: one more would overflow it.
  t.throws(() => new ByteWriter().s8(128), { instanceOf: WireError });
  t.throws(() => new ByteWriter().s16(-32769), { instanceOf: WireError });
  t.throws(() => new ByteWriter().s64(1n << 63n), { instanceOf: WireError });
});

// ---- Appendix B: the n1 and n2 test namespaces, built from the library's TLV reader ----------------

type Namespace = 'n1' | 'n2';
type Decoded = Record<string, string>;

const crypto = defaultCrypto();

function exact(rec: TlvRecord, len: number, what: string): ByteReader {
  if (rec.value.length !== len) throw new WireError('bad-value', `${what}: length ${rec.value.length}, expected ${len}`);
  return new ByteReader(rec.value);
}

function decodeNamespace(ns: Namespace, bytes: Uint8Array): Decoded {
  const known = ns === 'n1' ? [1n, 2n, 3n, 254n] : [0n, 11n];
  const records = readTlvStream(new ByteReader(bytes), (ty) => known.includes(ty));
  const out: Decoded = {};
  for (const rec of records) {
    if (!known.includes(rec.type)) continue;
    if (ns === 'n1') {
      if (rec.type === 1n) out['tlv1.amount_msat'] = decodeTu(rec.value, 8).toString();
      else if (rec.type === 2n) {
        const v = exact(rec, 8, 'tlv2').u64();
        out['tlv2.scid'] = `${v >> 40n}x${(v >> 16n) & 0xffffffn}x${v & 0xffffn}`;
      } else if (rec.type === 3n) {
        const r = exact(rec, 49, 'tlv3');
        const point = r.bytes(33);
        if (!crypto.isValidPublicKey(point)) throw new WireError('bad-value', 'tlv3 node_id is not a valid point');
        out['tlv3.node_id'] = toHex(point);
        out['tlv3.amount_msat_1'] = r.u64().toString();
        out['tlv3.amount_msat_2'] = r.u64().toString();
      } else if (rec.type === 254n) out['tlv4.cltv_delta'] = String(exact(rec, 2, 'tlv4').u16());
    } else {
      if (rec.type === 0n) out['tlv1.amount_msat'] = decodeTu(rec.value, 8).toString();
      else if (rec.type === 11n) out['tlv2.cltv_expiry'] = decodeTu(rec.value, 4).toString();
    }
  }
  return out;
}

interface StreamVector {
  readonly stream: string;
  readonly namespaces: Namespace[];
  readonly note: string;
}

// Walks a subsection and yields each "Invalid/Valid stream" with the namespaces named by the sentence
// that introduces its group ("in any namespace", "in either namespace", "in namespace `n1`", ...).
function streams(text: string, kind: 'Invalid' | 'Valid'): StreamVector[] {
  const out: StreamVector[] = [];
  let namespaces: Namespace[] = ['n1', 'n2'];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^The following/.test(line)) {
      const intro = `${line} ${lines[i + 1] ?? ''}`;
      namespaces = /`n1`/.test(intro) ? ['n1'] : /`n2`/.test(intro) ? ['n2'] : ['n1', 'n2'];
    }
    const m = new RegExp(`^1\\. ${kind} stream: (0x[0-9a-f ]*)$`).exec(line);
    if (m) out.push({ stream: m[1]!, namespaces, note: (lines[i + 1] ?? '').replace(/^2\. /, '') });
  }
  return out;
}

const failures = section('### TLV Decoding Failures', '### TLV Decoding Successes');
const successes = section('### TLV Decoding Successes', '### TLV Stream Decoding Failure');
const streamFailures = section('### TLV Stream Decoding Failure', '## Appendix C');

test('appendix B: every TLV decoding failure fails in the namespaces it names', (t) => {
  const vectors = streams(failures, 'Invalid');
  t.is(vectors.length, 9 + 4 + 20);
  for (const v of vectors) {
    for (const ns of v.namespaces) t.throws(() => decodeNamespace(ns, hex(v.stream)), { instanceOf: WireError }, `${ns} ${v.stream}: ${v.note}`);
  }
});

function parseValues(note: string): Decoded {
  const out: Decoded = {};
  for (const m of note.matchAll(/`(tlv\d)` `(\w+)`=(\S+)/g)) out[`${m[1]}.${m[2]}`] = m[3]!;
  // "`tlv3` `node_id`=... `amount_msat_1`=1 `amount_msat_2`=2": later fields share the record name.
  const rec = /`(tlv\d)`/.exec(note)?.[1];
  for (const m of note.matchAll(/ `(\w+)`=(\S+)/g)) if (rec) out[`${rec}.${m[1]}`] = m[2]!;
  return out;
}

test('appendix B: every TLV decoding success decodes to the values given', (t) => {
  const vectors = streams(successes, 'Valid');
  t.is(vectors.length, 7 + 12);
  for (const v of vectors) {
    for (const ns of v.namespaces) {
      const got = decodeNamespace(ns, hex(v.stream));
      if (v.note.startsWith('Values:')) {
        const want = parseValues(v.note);
        t.deepEqual(got, want, `${ns} ${v.stream}`);
      } else t.deepEqual(got, {}, `${ns} ${v.stream}: ignored`);
    }
  }
});

test('appendix B: stream failures, and concatenation rules', (t) => {
  const vectors = streams(streamFailures, 'Invalid');
  t.is(vectors.length, 5);
  for (const v of vectors) {
    for (const ns of v.namespaces) t.throws(() => decodeNamespace(ns, hex(v.stream)), { instanceOf: WireError }, `${ns} ${v.stream}: ${v.note}`);
  }
  const validN1 = streams(successes, 'Valid').filter((v) => v.namespaces.includes('n1') && v.stream !== '0x');
  const invalid = streams(failures, 'Invalid').filter((v) => v.namespaces.includes('n1'));
  // Any invalid stream appended to a valid one fails.
  for (const good of validN1) {
    for (const bad of invalid) {
      t.throws(() => decodeNamespace('n1', hex(good.stream + bad.stream.slice(2))), { instanceOf: WireError }, `${good.stream} + ${bad.stream}`);
    }
  }
  // A higher-numbered valid stream appended to a lower-numbered one still decodes.
  const firstType = (s: string) => new ByteReader(hex(s)).bigSize();
  let pairs = 0;
  for (const lo of validN1) {
    for (const hi of validN1) {
      if (firstType(hi.stream) <= firstType(lo.stream)) continue;
      t.notThrows(() => decodeNamespace('n1', hex(lo.stream + hi.stream.slice(2))), `${lo.stream} + ${hi.stream}`);
      pairs++;
    }
  }
  t.true(pairs > 20);
});

test('appendix C: init message extensions', (t) => {
  const text = section('## Appendix C', '## Appendix D');
  const validPart = text.slice(text.indexOf('are valid'), text.indexOf('are invalid'));
  const invalidPart = text.slice(text.indexOf('are invalid'));
  const list = (s: string) => [...s.matchAll(/^- `(0x[0-9a-f]+)`/gm)].map((m) => m[1]!);
  const valid = list(validPart);
  const invalid = list(invalidPart);
  t.is(valid.length, 2);
  t.is(invalid.length, 3);
  for (const v of valid) {
    const m = decodeInit(hex(v));
    t.is(toHex(encodeMessage(m)), v.slice(2), 'init re-encodes byte-for-byte, unknown odd TLVs kept');
  }
  t.deepEqual(decodeInit(hex(valid[1]!)).extraTlvs?.map((r) => r.type), [0xc9n, 0xcbn]);
  for (const v of invalid) t.throws(() => decodeMessage(hex(v)), { instanceOf: WireError }, v);
  t.is((t.throws(() => decodeMessage(hex(invalid[1]!))) as WireError).code, 'unknown-even-tlv');
  t.is((t.throws(() => decodeMessage(hex(invalid[2]!))) as WireError).code, 'tlv-order');
});
