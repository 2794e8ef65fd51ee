// Robustness over hostile input: Core Lightning's fuzz corpora (fuzz-wire-* payloads get their type
// prepended, fuzz-bigsize), then seeded random mutations of valid messages. Every decoder must return a
// value or throw WireError — nothing else — and whatever decodes must re-encode to the very same bytes.
import test, { type ExecutionContext } from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  ByteReader,
  MESSAGE_TYPES,
  WireError,
  decodeMessage,
  encodeBigSize,
  encodeMessage,
  readGossipRecords,
  type MessageName,
} from '../../src/lightning/wire/index.js';

const FUZZ = path.resolve(process.cwd(), '../shared/data/gossip/fuzz-corpora-cln');
const GOSSIP = path.resolve(process.cwd(), '../shared/data/gossip');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Tally {
  decoded: number;
  rejected: Record<string, number>;
  foreign: string[];
  notExact: number;
}

function tally(): Tally {
  return { decoded: 0, rejected: {}, foreign: [], notExact: 0 };
}

function tryDecode(bytes: Uint8Array, out: Tally): void {
  try {
    const m = decodeMessage(bytes);
    out.decoded++;
    if (!sameBytes(encodeMessage(m), bytes)) out.notExact++;
  } catch (err) {
    if (err instanceof WireError) out.rejected[err.code] = (out.rejected[err.code] ?? 0) + 1;
    else if (out.foreign.length < 5) out.foreign.push(`${String(err)} on ${Buffer.from(bytes.subarray(0, 40)).toString('hex')}`);
  }
}

function check(t: ExecutionContext, what: string, r: Tally): void {
  t.deepEqual(r.foreign, [], `${what}: only WireError may escape`);
  t.is(r.notExact, 0, `${what}: decoded messages re-encode exactly`);
  t.log(what, `decoded ${r.decoded}`, JSON.stringify(r.rejected));
}

const wireDirs = readdirSync(FUZZ).filter((d) => d.startsWith('fuzz-wire-'));

test('every fuzz-wire-* corpus exists for a known message type', (t) => {
  t.true(wireDirs.length >= 10);
  for (const d of wireDirs) t.true(d.slice('fuzz-wire-'.length) in MESSAGE_TYPES, d);
});

for (const dir of wireDirs) {
  test(`CLN corpus ${dir}: decode or WireError, exact re-encode`, (t) => {
    const type = MESSAGE_TYPES[dir.slice('fuzz-wire-'.length) as MessageName];
    const r = tally();
    const names = readdirSync(path.join(FUZZ, dir));
    for (const name of names) {
      const payload = readFileSync(path.join(FUZZ, dir, name));
      const msg = new Uint8Array(payload.length + 2);
      msg[0] = type >> 8;
      msg[1] = type & 0xff;
      msg.set(payload, 2);
      tryDecode(msg, r);
    }
    t.is(r.decoded + Object.values(r.rejected).reduce((a, b) => a + b, 0) + r.foreign.length, names.length);
    check(t, dir, r);
  });
}

test('CLN corpus fuzz-bigsize: BigSize reads succeed canonically or fail typed', (t) => {
  const dir = path.join(FUZZ, 'fuzz-bigsize');
  const names = readdirSync(dir);
  let values = 0;
  let errors = 0;
  const foreign: string[] = [];
  for (const name of names) {
    const bytes = new Uint8Array(readFileSync(path.join(dir, name)));
    const r = new ByteReader(bytes);
    try {
      while (!r.done) {
        const at = r.offset;
        const v = r.bigSize();
        // A value read back must be the minimal encoding of itself.
        if (!sameBytes(encodeBigSize(v), bytes.subarray(at, r.offset))) foreign.push(`non-minimal accepted in ${name}`);
        values++;
      }
    } catch (err) {
      if (err instanceof WireError) errors++;
      else foreign.push(String(err));
    }
  }
  t.deepEqual(foreign, []);
  t.true(names.length > 100);
  t.log(`fuzz-bigsize: ${names.length} files, ${values} values, ${errors} typed errors`);
});

// ---- seeded mutations of valid messages -------------------------------------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const take = (file: string, every: number, max: number) => {
    let i = 0;
    for (const rec of readGossipRecords(new Uint8Array(readFileSync(path.join(GOSSIP, file))))) {
      if (i++ % every === 0) out.push(rec.slice());
      if (out.length >= max) break;
    }
  };
  take('real/lnresearch-gossip-2025.gossip', 97, 300);
  take('real/node-lightning-fixtures.gossip', 1, 312);
  take('synthetic/queries.gossip', 1, 340); // small replies keep mutation cost down; the big ones are there too
  const chain = new Uint8Array(32).fill(6);
  const extra: Uint8Array[] = [
    encodeMessage({ type: 'init', globalFeatures: new Uint8Array(0), features: Uint8Array.of(0x0a, 0x82), networks: [chain], remoteAddr: Uint8Array.of(1, 127, 0, 0, 1, 0x26, 0x07) }),
    encodeMessage({ type: 'ping', numPongBytes: 4, ignored: new Uint8Array(8) }),
    encodeMessage({ type: 'pong', ignored: new Uint8Array(4) }),
    encodeMessage({ type: 'error', channelId: chain, data: new TextEncoder().encode('oops') }),
    encodeMessage({ type: 'query_short_channel_ids', chainHash: chain, shortChannelIds: { encoding: 1, values: [1n, 2n, 3n] }, queryFlags: { encoding: 0, values: [1, 2, 4] } }),
    Uint8Array.of(0x00, 0x84, ...new Array(100).fill(0x11)),
  ];
  return [...out, ...extra];
}

function mutate(msg: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  const kind = pick(6);
  const m = msg.slice();
  switch (kind) {
    case 0: {
      // flip 1-4 bytes (never the type: that is covered by case 5)
      for (let i = 0, n = 1 + pick(4); i < n && m.length > 2; i++) m[2 + pick(m.length - 2)]! ^= 1 + pick(255);
      return m;
    }
    case 1:
      return m.subarray(0, pick(m.length)); // truncate
    case 2: {
      // extend with random bytes (a bogus extension / TLV stream)
      const tail = Uint8Array.from({ length: 1 + pick(40) }, () => pick(256));
      return Uint8Array.of(...m, ...tail);
    }
    case 3: {
      // overwrite a 2-byte window with 0xffff: hostile length fields
      if (m.length > 4) {
        const at = 2 + pick(m.length - 3);
        m[at] = 0xff;
        m[at + 1] = 0xff;
      }
      return m;
    }
    case 4: {
      // insert or delete a byte inside
      const at = 2 + pick(Math.max(1, m.length - 2));
      return pick(2) ? Uint8Array.of(...m.subarray(0, at), pick(256), ...m.subarray(at)) : Uint8Array.of(...m.subarray(0, at), ...m.subarray(at + 1));
    }
    default: {
      m[1]! ^= 1 << pick(8); // change the type
      return m;
    }
  }
}

test('random mutations (flips, truncations, extensions, length bombs, retyping) of valid messages', (t) => {
  const rnd = prng(0x1234abcd);
  const base = seeds();
  t.true(base.length > 300);
  const r = tally();
  const started = process.hrtime.bigint();
  let slowest = 0;
  for (let round = 0; round < 40; round++) {
    for (const msg of base) {
      if (msg.length > 4000 && round % 8 !== 0) continue; // the big reply_channel_ranges: fewer rounds
      const m = mutate(msg, rnd);
      const t0 = process.hrtime.bigint();
      tryDecode(m, r);
      slowest = Math.max(slowest, Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  check(t, 'mutations', r);
  t.true(r.decoded > 1000, 'many mutants still decode (and re-encode exactly)');
  t.true(Object.keys(r.rejected).length >= 4, 'and many fail, with several typed codes');
  t.log(`total ${Number(process.hrtime.bigint() - started) / 1e6} ms, slowest single decode ${slowest.toFixed(2)} ms`);
});
