import test from 'ava';
import { GossipReplica, parseGossipItem, gossipKey } from '../../src/front/gossip/index.js';
import { channelUpdateChecksum, scidFromParts } from '../../src/lightning/wire/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import { generateGraph, makeChannelAnnouncement, makeNodeAnnouncement, makeUpdate, MAINNET } from './graph.js';

const graph = generateGraph({ channels: 2000, seed: 11 });

function loaded(): GossipReplica {
  const replica = new GossipReplica({ chainHash: MAINNET });
  replica.applyBatch(graph.all);
  return replica;
}

test('applyBatch stores the whole graph; lookups by scid and node; checksums precomputed', (t) => {
  const replica = new GossipReplica({ chainHash: MAINNET });
  const result = replica.applyBatch(graph.all);
  t.is(result.applied.length, graph.all.length - result.orphans);
  const stats = replica.stats();
  t.is(stats.channels, 2000);
  t.is(stats.updates, 4000);
  t.is(stats.nodeAnnouncements + result.orphans, graph.nodeAnnouncements.length); // nodes without channels are orphans
  const scid = graph.scids[123]!;
  const channel = replica.channel(scid)!;
  t.deepEqual(channel.announcement, graph.announcements[123]);
  t.deepEqual(channel.update1, graph.updates[246]);
  t.is(channel.checksum1, channelUpdateChecksum(graph.updates[246]!));
  t.is(channel.checksum2, channelUpdateChecksum(graph.updates[247]!));
  t.truthy(replica.node(channel.nodeId1));
  // scid order
  const order = [...replica.channelsFrom()].map((c) => c.scid);
  t.deepEqual(order, [...graph.scids].sort((a, b) => (a < b ? -1 : 1)));
});

test('newer replaces, same or older is stale, update without channel is an orphan, other chain is invalid', (t) => {
  const replica = loaded();
  const scid = graph.scids[5]!;
  const ts = replica.channel(scid)!.timestamp1;
  const older = makeUpdate(scid, 0, ts - 1, 1);
  const same = makeUpdate(scid, 0, ts, 7);
  const newer = makeUpdate(scid, 0, ts + 10, 42);
  const orphan = makeUpdate(scidFromParts(1, 1, 1), 1, ts);
  const otherChain = makeUpdate(scid, 1, ts + 10, 1, chainHash('testnet'));
  const r = replica.applyBatch([older, same, newer, orphan, otherChain, new Uint8Array([1, 2, 3])]);
  t.is(r.applied.length, 1);
  t.is(r.stale, 2);
  t.is(r.orphans, 1);
  t.is(r.invalid, 2);
  t.is(replica.channel(scid)!.timestamp1, ts + 10);
  t.is(replica.channel(scid)!.checksum1, channelUpdateChecksum(newer));
  // the stored copy is ours: mutating the input does not change it
  newer[200 % newer.length] ^= 0xff;
  t.notDeepEqual(replica.channel(scid)!.update1, newer);
  // node announcements: newer replaces
  const nodeId = replica.channel(scid)!.nodeId1;
  const before = replica.node(nodeId)!.timestamp;
  const na = makeNodeAnnouncement(Buffer.from(nodeId, 'hex'), before + 1, 99);
  t.is(replica.applyBatch([na]).applied.length, 1);
  t.is(replica.applyBatch([na]).stale, 1);
  t.is(replica.node(nodeId)!.timestamp, before + 1);
});

test('isNewer drives dedupe: a newer node_announcement of a known node is news', (t) => {
  const replica = loaded();
  const na = graph.nodeAnnouncements.find((m) => replica.node(parseNode(m)))!;
  const item = parseGossipItem(na);
  t.false(replica.isNewer(item));
  if (item.kind !== 'node_announcement') return t.fail();
  t.true(replica.isNewer({ ...item, timestamp: item.timestamp + 1 }));
  t.false(replica.isNewer(parseGossipItem(graph.announcements[0]!)));
  t.true(replica.isNewer(parseGossipItem(makeChannelAnnouncement(scidFromParts(999_999, 1, 0), graph.nodeIds[0]!, graph.nodeIds[1]!))));
});

function parseNode(m: Uint8Array): string {
  const item = parseGossipItem(m);
  return item.kind === 'node_announcement' ? item.nodeId : '';
}

test('messagesInWindow: announcement before its updates, only updates in the window, channels without update never', (t) => {
  const replica = loaded();
  const bare = scidFromParts(400_000, 1, 0);
  replica.applyBatch([makeChannelAnnouncement(bare, graph.nodeIds[0]!, graph.nodeIds[1]!)]);
  const all = [...replica.messagesInWindow({ first: 0, range: 0xffffffff })];
  const stats = replica.stats();
  t.is(all.length, 2000 + 4000 + stats.nodeAnnouncements); // the bare channel is not sent
  const window = { first: 1_770_000_000 + 3 * 86_400, range: 86_400 };
  const some = [...replica.messagesInWindow(window)];
  let lastAnnouncement: bigint | undefined;
  for (const m of some) {
    const item = parseGossipItem(m);
    if (item.kind === 'channel_announcement') lastAnnouncement = item.scid;
    else if (item.kind === 'channel_update') {
      t.is(item.scid, lastAnnouncement!);
      t.true(item.timestamp >= window.first && item.timestamp < window.first + window.range);
    } else t.true(item.timestamp >= window.first && item.timestamp < window.first + window.range);
  }
  t.true(some.length > 0 && some.length < all.length);
  t.is([...replica.messagesInWindow({ first: 0xffffffff, range: 0 })].length, 0);
});

test('channelsFrom survives insertions and removals while iterating', (t) => {
  const replica = loaded();
  const iterator = replica.channelsFrom();
  const seen: bigint[] = [];
  for (let i = 0; i < 10; i++) seen.push(iterator.next().value!.scid);
  // insert one before the cursor and one after; remove one ahead
  const sorted = [...graph.scids].sort((a, b) => (a < b ? -1 : 1));
  replica.applyBatch([makeChannelAnnouncement(sorted[0]! - 1n, graph.nodeIds[0]!, graph.nodeIds[1]!)]);
  const ahead = sorted[20]! + 1n;
  replica.applyBatch([makeChannelAnnouncement(ahead, graph.nodeIds[0]!, graph.nodeIds[1]!)]);
  t.true(replica.removeChannel(sorted[30]!));
  for (let r = iterator.next(); !r.done; r = iterator.next()) seen.push(r.value.scid);
  const expected = [...sorted.filter((s) => s !== sorted[30]), ahead].sort((a, b) => (a < b ? -1 : 1));
  t.deepEqual(seen, expected);
});

test('removeChannel drops a node left without channels', (t) => {
  const replica = new GossipReplica({ chainHash: MAINNET });
  const scid = scidFromParts(700_000, 1, 0);
  replica.applyBatch([makeChannelAnnouncement(scid, graph.nodeIds[0]!, graph.nodeIds[1]!), makeUpdate(scid, 0, 1_770_000_000), makeNodeAnnouncement(graph.nodeIds[0]!, 1_770_000_000)]);
  t.is(replica.stats().nodeAnnouncements, 1);
  t.true(replica.removeChannel(scid));
  t.false(replica.removeChannel(scid));
  t.deepEqual(replica.stats(), { channels: 0, updates: 0, nodes: 0, nodeAnnouncements: 0, bytes: 0 });
});

test('gossipKey tells apart two messages about the same thing', (t) => {
  const scid = scidFromParts(800_000, 1, 0);
  const a = makeUpdate(scid, 0, 1_770_000_000, 1, MAINNET, 1);
  const b = makeUpdate(scid, 0, 1_770_000_000, 1, MAINNET, 2); // other signature bytes
  t.regex(gossipKey(a), /^cu:800000x1x0\/0@1770000000#[0-9a-f]{16}$/);
  t.not(gossipKey(a), gossipKey(b));
  t.is(gossipKey(a), gossipKey(a.slice()));
  t.throws(() => parseGossipItem(a.subarray(0, 100)), { code: 'malformed' });
});
