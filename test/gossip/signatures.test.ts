// Gossip signatures (BOLT 7) on real mainnet messages and on messages we sign.
import test from 'ava';
import { createNativeCrypto, defaultCrypto, loadNativeSecp256k1, nobleCrypto, type CryptoProvider } from '../../src/lightning/crypto/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import {
  signChannelUpdate,
  syntheticGraph,
  syntheticKey,
  syntheticUpdateFields,
  verifyChannelAnnouncement,
  verifyChannelUpdate,
  verifyChannelUpdateBy,
  verifyNodeAnnouncement,
} from '../../src/lightning/gossip/index.js';
import { WireError, decodeChannelAnnouncement, decodeChannelUpdate, decodeNodeAnnouncement, scidFromParts } from '../../src/lightning/wire/index.js';
import { fixtureMessages, flipped, hex, typeOf } from './helpers.js';

const real = fixtureMessages('gossip-validation/real-mini.gossip');
const anns = real.filter((m) => typeOf(m) === 256);
const updates = real.filter((m) => typeOf(m) === 258);
const nodes = real.filter((m) => typeOf(m) === 257);

const native = loadNativeSecp256k1();
const providers: CryptoProvider[] = [nobleCrypto, ...(native ? [createNativeCrypto(native)] : [])];

test('fixture holds the expected real messages', (t) => {
  t.deepEqual([anns.length, updates.length, nodes.length], [4, 15, 15]);
  t.true(updates.some((u) => u.length === 150), 'some updates carry the inbound-fee TLV in their signed bytes');
});

for (const crypto of providers) {
  test(`${crypto.name}: real channel_announcements, node_announcements and channel_updates verify`, (t) => {
    const byScid = new Map(anns.map((a) => [decodeChannelAnnouncement(a).shortChannelId, decodeChannelAnnouncement(a)]));
    for (const a of anns) t.deepEqual(verifyChannelAnnouncement(crypto, a), { ok: true });
    for (const n of nodes) t.deepEqual(verifyNodeAnnouncement(crypto, n), { ok: true });
    for (const u of updates) {
      const channel = byScid.get(decodeChannelUpdate(u).shortChannelId)!;
      t.deepEqual(verifyChannelUpdate(crypto, u, channel), { ok: true });
    }
  });
}

test('a flipped byte anywhere in the signed part or the signature fails, for each type', (t) => {
  const crypto = defaultCrypto();
  const ann = anns[0]!;
  const channel = decodeChannelAnnouncement(ann);
  const update = updates.find((u) => decodeChannelUpdate(u).shortChannelId === channel.shortChannelId && u.length === 150) ?? updates[0]!;
  const updChannel = decodeChannelAnnouncement(anns.find((a) => decodeChannelAnnouncement(a).shortChannelId === decodeChannelUpdate(update).shortChannelId)!);
  const node = nodes[0]!;
  // Signatures: each of the four of an announcement is checked.
  t.deepEqual(verifyChannelAnnouncement(crypto, flipped(ann, 2 + 10)), { ok: false, field: 'node_signature_1' });
  t.deepEqual(verifyChannelAnnouncement(crypto, flipped(ann, 66 + 10)), { ok: false, field: 'node_signature_2' });
  t.deepEqual(verifyChannelAnnouncement(crypto, flipped(ann, 130 + 10)), { ok: false, field: 'bitcoin_signature_1' });
  t.deepEqual(verifyChannelAnnouncement(crypto, flipped(ann, 194 + 10)), { ok: false, field: 'bitcoin_signature_2' });
  // Signed bytes: first, middle and last byte.
  for (const at of [ann.length - 172, ann.length - 100, ann.length - 1]) t.false(verifyChannelAnnouncement(crypto, flipped(ann, at)).ok, `announcement byte ${at}`);
  // A flipped length byte makes the message undecodable: a typed WireError, not a verification.
  t.throws(() => verifyChannelAnnouncement(crypto, flipped(ann, 258)), { instanceOf: WireError });
  for (const at of [10, 66, 120, update.length - 1]) t.false(verifyChannelUpdate(crypto, flipped(update, at), updChannel).ok, `update byte ${at}`);
  const nodeTimestampAt = 68 + ((node[66]! << 8) | node[67]!);
  for (const at of [10, nodeTimestampAt + 3, nodeTimestampAt + 10, node.length - 1]) t.false(verifyNodeAnnouncement(crypto, flipped(node, at)).ok, `node byte ${at}`);
  // The trailing TLV of a 150-byte update is signed: flipping its last byte fails (checked above), and so does dropping it.
  if (update.length === 150) t.false(verifyChannelUpdate(crypto, update.subarray(0, 138), updChannel).ok);
});

test('channel_update signer follows channel_flags bit 0', (t) => {
  const crypto = defaultCrypto();
  const update = updates[0]!;
  const channel = decodeChannelAnnouncement(anns.find((a) => decodeChannelAnnouncement(a).shortChannelId === decodeChannelUpdate(update).shortChannelId)!);
  const swapped = { nodeId1: channel.nodeId2, nodeId2: channel.nodeId1 };
  t.true(verifyChannelUpdate(crypto, update, channel).ok);
  t.false(verifyChannelUpdate(crypto, update, swapped).ok);
});

test('messages we sign verify with both providers, and a wrong key does not', (t) => {
  const crypto = defaultCrypto();
  const graph = syntheticGraph({ nodes: 3, channels: 2, timestamp: 1_770_000_000, seed: 'sig-test' });
  for (const c of graph.channels) {
    const fields = decodeChannelAnnouncement(c.announcement);
    for (const p of providers) {
      t.true(verifyChannelAnnouncement(p, c.announcement).ok);
      t.true(verifyChannelUpdate(p, c.updates[0], fields).ok);
      t.true(verifyChannelUpdate(p, c.updates[1], fields).ok);
    }
  }
  for (const n of graph.nodeAnnouncements) for (const p of providers) t.true(verifyNodeAnnouncement(p, n).ok);
  const scid = scidFromParts(800_000, 1, 1);
  const signed = signChannelUpdate(crypto, syntheticUpdateFields(chainHash('bitcoin'), scid, 0, 1_770_000_000), syntheticKey('x', 'a'));
  t.true(verifyChannelUpdateBy(crypto, signed, crypto.publicKey(syntheticKey('x', 'a'))).ok);
  t.false(verifyChannelUpdateBy(crypto, signed, crypto.publicKey(syntheticKey('x', 'b'))).ok);
  t.is(hex(decodeNodeAnnouncement(graph.nodeAnnouncements[0]!).nodeId).length, 66);
});

test('verification never throws on an invalid key or a malformed signature', (t) => {
  const crypto = defaultCrypto();
  const update = updates[0]!;
  const bad = new Uint8Array(33).fill(0xff);
  t.false(verifyChannelUpdateBy(crypto, update, bad).ok);
  const zeroSig = update.slice();
  zeroSig.fill(0, 2, 66);
  t.false(verifyChannelUpdateBy(crypto, zeroSig, bad).ok);
});
