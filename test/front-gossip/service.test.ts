// The service with fake sessions: aggregation, decisions, muting, staggered rebroadcast, pacing, rate limit.
import test from 'ava';
import { GossipService, PacedSender, gossipKey, parseGossipItem } from '../../src/front/gossip/index.js';
import { encodeGossipTimestampFilter, encodeQueryShortChannelIds, scidFromParts } from '../../src/lightning/wire/index.js';
import { FakeSession, fakeId } from './harness.js';
import { generateGraph, makeChannelAnnouncement, makeNodeAnnouncement, makeUpdate, MAINNET } from './graph.js';

const graph = generateGraph({ channels: 300, seed: 5 });
const BASE = 1_770_000_000;

interface Forwarded {
  message: Uint8Array;
  origins: string[];
  key: string;
}

function setup(extra: Partial<ConstructorParameters<typeof GossipService>[0]> = {}) {
  const forwarded: Forwarded[] = [];
  const service = new GossipService({
    chainHash: MAINNET,
    forward: (message, origins, key) => forwarded.push({ message, origins, key }),
    rebroadcastIntervalMs: 3_600_000, // rounds are run by hand
    aggregator: { batchDelayMs: 10_000 },
    ...extra,
  });
  service.applySnapshot(graph.all);
  return { service, forwarded };
}

function filter(first = 0, range = 0xffffffff): Uint8Array {
  return encodeGossipTimestampFilter({ type: 'gossip_timestamp_filter', chainHash: MAINNET, firstTimestamp: first, timestampRange: range });
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setImmediate(resolve));
}

async function idle(sender: PacedSender): Promise<void> {
  await until(() => sender.state === 'idle');
}

test('three peers send the same item: forwarded once with three origins; accepted => rebroadcast to a fourth peer, not to the three', async (t) => {
  const { service, forwarded } = setup();
  const peers = [1, 2, 3, 4].map((n) => new FakeSession(fakeId(n)));
  for (const p of peers) service.addPeer(p);
  for (const p of peers) service.onPeerGossip(p, filter());
  await Promise.all(peers.map((p) => idle(service.peer(p)!.sender)));
  for (const p of peers) p.sent.length = 0; // the dumps

  const scid = graph.scids[7]!;
  const ts = service.replica.channel(scid)!.timestamp1 + 60;
  const update = makeUpdate(scid, 0, ts, 4242);
  t.is(service.onPeerGossip(peers[0]!, update), 'pending');
  t.is(service.onPeerGossip(peers[1]!, update.slice()), 'merged');
  t.is(service.onPeerGossip(peers[2]!, update.slice()), 'merged');
  service.aggregator.flush();
  t.is(forwarded.length, 1);
  t.deepEqual(forwarded[0]!.origins.sort(), [peers[0]!.nodeIdHex, peers[1]!.nodeIdHex, peers[2]!.nodeIdHex].sort());
  t.is(forwarded[0]!.key, gossipKey(update));
  // A copy while the back decides: not forwarded again, but its sender joins the origins.
  t.is(service.onPeerGossip(peers[2]!, update), 'merged');
  t.is(forwarded.length, 1);

  service.applyFromBack([], [{ key: forwarded[0]!.key, accepted: true }]);
  t.is(service.replica.channel(scid)!.timestamp1, ts);
  // Once known, a copy is a plain duplicate.
  t.is(service.onPeerGossip(peers[1]!, update), 'known');
  // The same item also arrives as a live update from the back: the replica keeps it once, nothing doubles.
  service.applyFromBack([update]);
  await service.rebroadcaster.flushAll();
  t.deepEqual(peers[3]!.sent, [update]);
  for (const p of peers.slice(0, 3)) t.is(p.sent.length, 0);
  t.is(service.stats().aggregator.forwarded, 1);
  service.close();
});

test('a live update from the back before the decision still knows its origins', async (t) => {
  const { service, forwarded } = setup();
  const a = new FakeSession(fakeId(10));
  const b = new FakeSession(fakeId(11));
  for (const p of [a, b]) {
    service.addPeer(p);
    service.onPeerGossip(p, filter(BASE + 29 * 86_400, 3 * 86_400)); // after the graph's timestamps: nothing to dump
  }
  await Promise.all([a, b].map((p) => idle(service.peer(p)!.sender)));
  const na = makeNodeAnnouncement(Buffer.from(service.replica.channel(graph.scids[0]!)!.nodeId1, 'hex'), BASE + 30 * 86_400);
  t.is(service.onPeerGossip(a, na), 'pending');
  service.aggregator.flush();
  t.is(forwarded.length, 1);
  service.applyFromBack([na]); // the broadcast to every front overtook the decision
  service.applyFromBack([], [{ key: forwarded[0]!.key, accepted: true }]);
  const update = makeUpdate(graph.scids[1]!, 1, BASE + 31 * 86_400);
  service.applyFromBack([update]);
  await service.rebroadcaster.flushAll();
  t.deepEqual(a.sent, [update], 'not the node_announcement it sent us');
  t.deepEqual(b.sent, [na, update]);
  service.close();
});

test('rebroadcast respects each filter, needs a filter, and sends an announcement before its first update', async (t) => {
  const { service } = setup();
  const noFilter = new FakeSession(fakeId(20));
  const narrow = new FakeSession(fakeId(21));
  const wide = new FakeSession(fakeId(22));
  for (const p of [noFilter, narrow, wide]) service.addPeer(p);
  service.onPeerGossip(narrow, filter(BASE + 100 * 86_400, 100));
  service.onPeerGossip(wide, filter(BASE + 100 * 86_400, 86_400));
  await Promise.all([narrow, wide].map((p) => idle(service.peer(p)!.sender)));
  t.is(narrow.sent.length + wide.sent.length, 0, 'nothing in those windows yet');

  const scid = scidFromParts(990_000, 5, 1);
  const announcement = makeChannelAnnouncement(scid, graph.nodeIds[0]!, graph.nodeIds[1]!);
  service.applyFromBack([announcement]);
  await service.rebroadcaster.flushAll();
  t.is(wide.sent.length, 0, 'an announcement without an update waits');
  const update = makeUpdate(scid, 1, BASE + 100 * 86_400 + 500);
  service.applyFromBack([update]);
  await service.rebroadcaster.flushAll();
  t.deepEqual(wide.sent, [announcement, update]);
  t.is(narrow.sent.length, 0, 'outside the narrow window');
  t.is(noFilter.sent.length, 0, 'no gossip_timestamp_filter: no relay');
  // a superseded update is skipped
  const newer = makeUpdate(scid, 1, BASE + 100 * 86_400 + 600);
  const newest = makeUpdate(scid, 1, BASE + 100 * 86_400 + 700);
  service.applyFromBack([newer]);
  service.applyFromBack([newest]);
  await service.rebroadcaster.flushAll();
  t.deepEqual(wide.sent.slice(2), [newest]);
  t.is(service.stats().rebroadcast.queued, 0, 'offered to every peer: trimmed');
  service.close();
});

test.serial('staggered: each peer gets its round at its own offset within the interval', async (t) => {
  const offsets = [0.1, 0.9];
  const { service } = setup({ rebroadcastIntervalMs: 1000, random: () => offsets.shift() ?? 0.5 });
  const early = new FakeSession(fakeId(30));
  const late = new FakeSession(fakeId(31));
  for (const p of [early, late]) {
    service.addPeer(p);
    service.onPeerGossip(p, filter(BASE + 200 * 86_400, 86_400));
  }
  await Promise.all([early, late].map((p) => idle(service.peer(p)!.sender)));
  const update = makeUpdate(graph.scids[3]!, 0, BASE + 200 * 86_400 + 1);
  service.applyFromBack([update]);
  const start = Date.now();
  while (early.sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const earlyAt = Date.now() - start;
  t.is(late.sent.length, 0, `early peer served at ${earlyAt} ms, the late one not yet`);
  while (late.sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.deepEqual(late.sent, [update]);
  service.close();
});

test('rejections mute a peer: its gossip is ignored for a while', (t) => {
  let now = 1_000_000;
  const { service, forwarded } = setup({ aggregator: { batchDelayMs: 10_000, muteThreshold: 3, rejectWindowMs: 60_000, muteDurationMs: 600_000 }, now: () => now });
  const bad = new FakeSession(fakeId(40));
  const good = new FakeSession(fakeId(41));
  service.addPeer(bad);
  service.addPeer(good);
  for (let i = 0; i < 3; i++) {
    service.onPeerGossip(bad, makeUpdate(graph.scids[i]!, 0, BASE + 50 * 86_400 + i));
  }
  service.aggregator.flush();
  t.is(forwarded.length, 3);
  service.applyFromBack([], forwarded.map((f) => ({ key: f.key, accepted: false, reason: 'bad signature' })));
  t.true(service.aggregator.isMuted(bad.nodeIdHex));
  t.is(service.onPeerGossip(bad, makeUpdate(graph.scids[9]!, 0, BASE + 50 * 86_400)), 'muted');
  // a rejected item sent again by someone else counts against it and is not forwarded twice
  t.is(service.onPeerGossip(good, forwarded[0]!.message), 'rejected-before');
  t.false(service.aggregator.isMuted(good.nodeIdHex));
  // malformed gossip counts too
  t.is(service.onPeerGossip(good, Uint8Array.of(0, 99, 1)), 'ignored');
  t.is(service.onPeerGossip(good, Uint8Array.of(1, 2, 0)), 'malformed');
  now += 600_001;
  t.false(service.aggregator.isMuted(bad.nodeIdHex));
  t.is(service.onPeerGossip(bad, makeUpdate(graph.scids[9]!, 0, BASE + 50 * 86_400)), 'pending');
  t.is(service.stats().aggregator.ignoredMuted, 1);
  service.close();
});

test('in flight: a bounded table, and items without decision time out', (t) => {
  let now = 5_000_000;
  const { service, forwarded } = setup({ aggregator: { batchDelayMs: 10, maxInFlight: 2, inFlightTimeoutMs: 1000 }, now: () => now });
  const p = new FakeSession(fakeId(50));
  service.addPeer(p);
  const items = [0, 1, 2].map((i) => makeUpdate(graph.scids[i]!, 1, BASE + 60 * 86_400 + i));
  t.is(service.onPeerGossip(p, items[0]!), 'pending');
  t.is(service.onPeerGossip(p, items[1]!), 'pending');
  t.is(service.onPeerGossip(p, items[2]!), 'overloaded');
  service.aggregator.flush();
  now += 2000;
  t.is(service.onPeerGossip(p, items[2]!), 'pending', 'the sweep made room');
  t.is(service.stats().aggregator.timedOut, 2);
  t.is(service.onPeerGossip(p, items[0]!), 'pending', 'forgotten: may be forwarded again');
  service.aggregator.flush();
  t.is(forwarded.length, 4);
  service.close();
});

test('paced sender: pulls only as fast as the session drains, replies go before bulk', async (t) => {
  const session = new FakeSession(fakeId(60));
  session.budget = 5;
  const sender = new PacedSender(session, { chunkMessages: 3 });
  let pulled = 0;
  function* lots(): Generator<Uint8Array> {
    for (let i = 0; i < 1000; i++) {
      pulled++;
      yield Uint8Array.of(1, 0, i & 0xff);
    }
  }
  const bulk = sender.enqueue(lots(), 'bulk', 'dump');
  await until(() => sender.state !== 'sending');
  t.is(sender.state, 'waiting-drain');
  t.is(pulled, 5, 'nothing pulled beyond what the socket took');
  const reply = sender.enqueue([Uint8Array.of(1, 6, 1), Uint8Array.of(1, 6, 2)], 'reply');
  session.drain(3);
  t.is(await reply.done, 'complete');
  t.deepEqual(session.sent.slice(5, 7).map((m) => m[1]), [6, 6], 'the reply overtook the dump');
  session.drain();
  t.is(await bulk.done, 'complete');
  t.is(session.sent.length, 1002);
  t.true(session.corks > 0, 'each chunk is corked');
  t.is(session.corks, session.uncorks);
  // cancel and close
  const never = sender.enqueue(lots(), 'bulk', 'dump');
  sender.cancelTagged('dump');
  t.is(await never.done, 'cancelled');
  session.budget = 1;
  const pending = sender.enqueue(lots(), 'bulk');
  await until(() => sender.state === 'waiting-drain');
  session.close();
  t.is(await pending.done, 'closed');
});

test('rate limit: queries beyond 5/s are delayed, beyond the queue dropped', async (t) => {
  let now = 0;
  const { service } = setup({ queriesPerSecond: 5, queryBurst: 5, maxQueuedQueries: 3, now: () => now });
  const p = new FakeSession(fakeId(70));
  service.addPeer(p);
  const q = encodeQueryShortChannelIds({ type: 'query_short_channel_ids', chainHash: MAINNET, shortChannelIds: { encoding: 0, values: [graph.scids[0]!] }, queryFlags: { encoding: 0, values: [1] } });
  for (let i = 0; i < 10; i++) service.onPeerGossip(p, q);
  await idle(service.peer(p)!.sender);
  const ends = () => p.types().filter((type) => type === 262).length;
  t.is(ends(), 5);
  const stats = service.stats().queries;
  t.is(stats.delayed, 3);
  t.is(stats.dropped, 2);
  now = 1000; // a second later the bucket is full again: the waiting ones go
  while (ends() < 8) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(ends(), 8);
  service.close();
});

test('a new gossip_timestamp_filter replaces the dump in progress', async (t) => {
  const { service } = setup();
  const p = new FakeSession(fakeId(80));
  p.budget = 10;
  service.addPeer(p);
  service.onPeerGossip(p, filter());
  await until(() => service.peer(p)!.sender.state === 'waiting-drain');
  t.is(p.sent.length, 10);
  service.onPeerGossip(p, filter(0xffffffff, 0));
  p.drain();
  await idle(service.peer(p)!.sender);
  t.is(p.sent.length, 10, 'the old dump is cancelled and the new window is empty');
  t.deepEqual(service.peer(p)!.responder.filter, { first: 0xffffffff, range: 0 });
  service.close();
});
