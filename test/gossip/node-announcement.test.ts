// Our own node_announcement: built from operator text, signed, and accepted by the table once public.
import test from 'ava';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { buildNodeAnnouncement, decodeAlias, GossipError, syntheticGraph, verifyNodeAnnouncement } from '../../src/lightning/gossip/index.js';
import { decodeNodeAnnouncement, WireError } from '../../src/lightning/wire/index.js';
import { publishOwnNodeAnnouncement, RoutingTable } from '../../src/back/gossip/index.js';
import { featuresFromNames } from '../../src/lightning/features/index.js';

const crypto = defaultCrypto();
const secretKey = crypto.randomSecretKey();
const onion = 'vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion';

test('built from text addresses, sorted by type, signed by the node key', (t) => {
  const features = featuresFromNames(['var_onion_optin', 'option_static_remotekey']);
  const msg = buildNodeAnnouncement({
    secretKey,
    alias: 'lncluster ⚡',
    color: '#ff9900',
    addresses: [`${onion}:9735`, 'node.example.com:9735', '203.0.113.7:9735', '[2001:db8::1]:9736'],
    features,
    timestamp: 1_770_000_000,
  });
  t.true(verifyNodeAnnouncement(crypto, msg).ok);
  const d = decodeNodeAnnouncement(msg);
  t.deepEqual(d.nodeId, crypto.publicKey(secretKey));
  t.is(decodeAlias(d.alias), 'lncluster ⚡');
  t.deepEqual([...d.rgbColor], [0xff, 0x99, 0x00]);
  t.deepEqual(d.addresses.map((a) => a.type), ['ipv4', 'ipv6', 'torv3', 'dns']);
  t.like(d.addresses[1], { port: 9736 });
  t.is(d.timestamp, 1_770_000_000);
  t.deepEqual(d.features, features);
  t.is(d.addresses.length, 4);
});

test('bad input is a typed error', (t) => {
  const base = { secretKey, alias: 'a', color: '#000000', addresses: [] as string[], features: new Uint8Array(0), timestamp: 1 };
  t.throws(() => buildNodeAnnouncement({ ...base, alias: 'x'.repeat(33) }), { instanceOf: GossipError });
  t.throws(() => buildNodeAnnouncement({ ...base, color: 'red' }), { instanceOf: GossipError });
  t.throws(() => buildNodeAnnouncement({ ...base, timestamp: 0 }), { instanceOf: GossipError });
  t.throws(() => buildNodeAnnouncement({ ...base, addresses: ['1.2.3.4:0'] }), { instanceOf: GossipError });
  t.throws(() => buildNodeAnnouncement({ ...base, addresses: ['a.example:1', 'b.example:1'] }), { instanceOf: GossipError });
  t.throws(() => buildNodeAnnouncement({ ...base, addresses: ['no-port'] }), { instanceOf: WireError });
  t.notThrows(() => buildNodeAnnouncement({ ...base, alias: 'x'.repeat(32), color: Uint8Array.of(1, 2, 3) }));
});

test('publishOwnNodeAnnouncement: refused before a public channel, then accepted with growing timestamps', (t) => {
  const graph = syntheticGraph({ nodes: 3, channels: 2, timestamp: 1_770_000_000, seed: 'own' });
  const me = graph.nodes[graph.channels[0]!.node1]!;
  let now = 1_770_000_100;
  const table = new RoutingTable({ now: () => now });
  const input = { secretKey: me.secretKey, alias: 'me', color: '#123456', addresses: ['127.0.0.1:9735'], features: new Uint8Array(0) };
  t.like(publishOwnNodeAnnouncement(table, input).decision, { accepted: false, reason: 'no-channel-for-node' });
  table.ingest(graph.channels[0]!.announcement);
  const first = publishOwnNodeAnnouncement(table, input);
  t.like(first.decision, { accepted: true, kind: 'node_announcement' });
  t.is(decodeNodeAnnouncement(first.message).timestamp, now);
  // Same second again: the timestamp still grows (BOLT 7: MUST be greater).
  const second = publishOwnNodeAnnouncement(table, { ...input, alias: 'me again' });
  t.like(second.decision, { accepted: true, replaced: true });
  t.is(decodeNodeAnnouncement(second.message).timestamp, now + 1);
  now += 100;
  t.is(decodeNodeAnnouncement(publishOwnNodeAnnouncement(table, input).message).timestamp, now);
});
