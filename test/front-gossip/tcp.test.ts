// The front's gossip over real BOLT 8 sessions on 127.0.0.1: dumps, relay, queries, rate limit, pacing.
import test, { type ExecutionContext } from 'ava';
import { GossipService, parseGossipItem } from '../../src/front/gossip/index.js';
import {
  decodeReplyChannelRange,
  decodeReplyShortChannelIdsEnd,
  encodeGossipTimestampFilter,
  encodeQueryChannelRange,
  encodeQueryShortChannelIds,
  MAX_MESSAGE_LENGTH,
  peekMessageType,
} from '../../src/lightning/wire/index.js';
import { eventually, startFront, TestPeer, type TestFront } from './harness.js';
import { generateGraph, makeUpdate, MAINNET } from './graph.js';

const BASE = 1_770_000_000;
const small = generateGraph({ channels: 3000, seed: 21 });

function filter(first = 0, range = 0xffffffff): Uint8Array {
  return encodeGossipTimestampFilter({ type: 'gossip_timestamp_filter', chainHash: MAINNET, firstTimestamp: first, timestampRange: range });
}

interface Setup {
  service: GossipService;
  front: TestFront;
  forwarded: Array<{ message: Uint8Array; origins: string[]; key: string }>;
}

async function setup(t: ExecutionContext, graph = small, extra: Partial<ConstructorParameters<typeof GossipService>[0]> = {}): Promise<Setup> {
  const forwarded: Setup['forwarded'] = [];
  const service = new GossipService({
    chainHash: MAINNET,
    forward: (message, origins, key) => forwarded.push({ message, origins, key }),
    rebroadcastIntervalMs: 3_600_000,
    aggregator: { batchDelayMs: 20 },
    ...extra,
  });
  service.applySnapshot(graph.all);
  const front = await startFront(service);
  // Also on failure: no server or timer left behind to keep the worker alive.
  t.teardown(async () => {
    await front.close();
    service.close();
  });
  return { service, front, forwarded };
}

async function teardown(_s: Setup, peers: TestPeer[]): Promise<void> {
  for (const peer of peers) peer.close();
}

test('gossip_timestamp_filter: the dump is exactly the window; later gossip is relayed within it', async (t) => {
  const s = await setup(t);
  const window = { first: BASE + 12 * 86_400, range: 20 * 86_400 }; // reaches past the graph's newest timestamps
  const expected = [...s.service.replica.messagesInWindow(window)];
  const peer = await TestPeer.connect(s.front);
  const outside = await TestPeer.connect(s.front);
  const silent = await TestPeer.connect(s.front); // never sends a filter
  peer.send(filter(window.first, window.range));
  outside.send(filter(BASE + 100 * 86_400, 86_400));
  await peer.until(() => peer.gossip().length >= expected.length);
  t.deepEqual(peer.gossip(), expected);
  await eventually(() => s.front.sessions.every((session) => s.service.peer(session)?.sender.state === 'idle'));

  const inside = makeUpdate(small.scids[1]!, 0, BASE + 20 * 86_400);
  const later = makeUpdate(small.scids[2]!, 1, window.first + window.range + 10);
  s.service.applyFromBack([inside, later]);
  await s.service.rebroadcaster.flushAll();
  await peer.until(() => peer.gossip().length === expected.length + 1);
  t.deepEqual(peer.gossip().at(-1), inside);
  peer.ping(); // a round trip: anything else sent before the pong has arrived by then
  await peer.until(() => peer.pongsReceived === 1);
  t.is(peer.gossip().length, expected.length + 1);
  outside.ping();
  silent.ping();
  await outside.until(() => outside.pongsReceived === 1);
  await silent.until(() => silent.pongsReceived === 1);
  t.is(outside.gossip().length, 0);
  t.is(silent.gossip().length, 0, 'no gossip before a gossip_timestamp_filter');
  await teardown(s, [peer, outside, silent]);
});

test('query_channel_range and query_short_channel_ids over a session', async (t) => {
  const s = await setup(t);
  const peer = await TestPeer.connect(s.front);
  peer.send(encodeQueryChannelRange({ type: 'query_channel_range', chainHash: MAINNET, firstBlocknum: 0, numberOfBlocks: 0xffffffff, queryOption: 3n }));
  await peer.until(() => peer.gossip().some((m) => peekMessageType(m) === 264 && decodeReplyChannelRange(m).syncComplete === 1));
  const replies = peer.gossip().map((m) => {
    t.true(m.length <= MAX_MESSAGE_LENGTH);
    return decodeReplyChannelRange(m);
  });
  t.true(replies.length >= 2);
  for (let i = 1; i < replies.length; i++) t.is(replies[i]!.firstBlocknum, replies[i - 1]!.firstBlocknum + replies[i - 1]!.numberOfBlocks);
  const ids = replies.flatMap((r) => r.shortChannelIds.values);
  t.deepEqual(ids, [...small.scids].sort((a, b) => (a < b ? -1 : 1)));
  const checksums = replies.flatMap((r) => r.checksums!);
  t.is(checksums[17]!.checksum1, s.service.replica.channel(ids[17]!)!.checksum1);

  peer.received.length = 0;
  const asked = [ids[3]!, ids[4]!];
  peer.send(encodeQueryShortChannelIds({ type: 'query_short_channel_ids', chainHash: MAINNET, shortChannelIds: { encoding: 0, values: asked }, queryFlags: { encoding: 0, values: [1 | 2, 4] } }));
  await peer.until(() => peer.gossip().some((m) => peekMessageType(m) === 262));
  const got = peer.gossip();
  t.deepEqual(got.slice(0, 3), [s.service.replica.channel(asked[0]!)!.announcement, s.service.replica.channel(asked[0]!)!.update1!, s.service.replica.channel(asked[1]!)!.update2!]);
  t.is(decodeReplyShortChannelIdsEnd(got[3]!).fullInformation, 1);
  await teardown(s, [peer]);
});

test('rate limit: a burst of queries is delayed, every one is answered, in order', async (t) => {
  const s = await setup(t);
  const peer = await TestPeer.connect(s.front);
  for (let i = 0; i < 8; i++) {
    peer.send(encodeQueryShortChannelIds({ type: 'query_short_channel_ids', chainHash: MAINNET, shortChannelIds: { encoding: 0, values: [small.scids[i]!] }, queryFlags: { encoding: 0, values: [1] } }));
  }
  await peer.until(() => peer.gossip().filter((m) => peekMessageType(m) === 262).length === 8);
  const announced = peer.gossip().filter((m) => peekMessageType(m) === 256).map((m) => (parseGossipItem(m) as { scid: bigint }).scid);
  t.deepEqual(announced, small.scids.slice(0, 8));
  t.is(s.service.stats().queries.delayed, 3);
  t.is(s.service.stats().queries.dropped, 0);
  await teardown(s, [peer]);
});

test('three peers send the same update: one forward with three origins; accepted, a fourth peer gets it, the three do not', async (t) => {
  // A window long enough for the three copies to arrive on a loaded machine before the one forward.
  const s = await setup(t, small, { aggregator: { batchDelayMs: 1500 } });
  const peers = await Promise.all([0, 1, 2, 3].map(() => TestPeer.connect(s.front)));
  for (const p of peers) p.send(filter(BASE + 50 * 86_400, 86_400));
  const update = makeUpdate(small.scids[9]!, 1, BASE + 50 * 86_400 + 5, 777);
  for (const p of peers.slice(0, 3)) p.send(update);
  await eventually(() => s.forwarded.length === 1 && s.service.stats().aggregator.duplicatesInFlight === 2);
  t.deepEqual(s.forwarded[0]!.origins.sort(), peers.slice(0, 3).map((p) => p.nodeIdHex).sort());
  s.service.applyFromBack([update], [{ key: s.forwarded[0]!.key, accepted: true }]);
  await s.service.rebroadcaster.flushAll();
  await peers[3]!.until(() => peers[3]!.gossip().length === 1);
  t.deepEqual(peers[3]!.gossip(), [update]);
  for (const p of peers) p.ping();
  await Promise.all(peers.map((p) => p.until(() => p.pongsReceived === 1)));
  for (const p of peers.slice(0, 3)) t.is(p.gossip().length, 0);
  t.is(s.forwarded.length, 1);
  await teardown(s, peers);
});

test.serial('pacing: a peer that does not read holds a bounded amount; others get their whole dump and pongs mid-dump', async (t) => {
  const big = generateGraph({ channels: 20_000, seed: 99 });
  const s = await setup(t, big);
  const total = [...s.service.replica.messagesInWindow({ first: 0, range: 0xffffffff })];
  const totalBytes = total.reduce((sum, m) => sum + m.length, 0);
  const stalled = await TestPeer.connect(s.front, false);
  const reader = await TestPeer.connect(s.front, false);
  stalled.send(filter());
  stalled.connection.pause(); // stops reading: its socket buffers fill
  reader.send(filter());
  await reader.until(() => reader.gossipCount >= 500);
  reader.ping();
  await reader.until(() => reader.gossipCount === total.length, 60_000);
  t.is(reader.pongsReceived, 1);
  t.true(reader.gossipCountAtPong[0]! < total.length, `pong after ${reader.gossipCountAtPong[0]} of ${total.length} messages`);

  const stalledSession = s.front.sessions.find((session) => session.nodeIdHex === stalled.nodeIdHex)!;
  const sender = s.service.peer(stalledSession)!.sender;
  t.is(sender.state, 'waiting-drain');
  t.true(sender.bytesSent < totalBytes / 2, `stalled peer: ${sender.bytesSent} of ${totalBytes} bytes taken`);
  // It resumes where it stopped once it reads again.
  stalled.connection.resume();
  await stalled.until(() => stalled.gossipCount === total.length, 60_000);
  t.pass();
  await teardown(s, [stalled, reader]);
});
