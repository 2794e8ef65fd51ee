// The back's routing table: every rejection reason, replacement, pruning, snapshots, restore.
import test from 'ava';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import { buildNodeAnnouncement, signChannelAnnouncement, signChannelUpdate, syntheticGraph, syntheticKey, syntheticUpdateFields } from '../../src/lightning/gossip/index.js';
import { decodeChannelAnnouncement, decodeChannelUpdate, scidToString } from '../../src/lightning/wire/index.js';
import { PEER_FAULT_REASONS, RoutingTable, TWO_WEEKS, type FundingChecker, type TableChange } from '../../src/back/gossip/index.js';
import { fixtureMessages, flipped, hex, typeOf } from './helpers.js';

const crypto = defaultCrypto();
const NOW = 1_770_000_000;
const graph = syntheticGraph({ nodes: 6, channels: 8, timestamp: NOW - 3600, seed: 'table-test' });
const mainnet = chainHash('bitcoin');

function freshTable(now = NOW, extra: ConstructorParameters<typeof RoutingTable>[0] = {}) {
  let clock = now;
  const table = new RoutingTable({ now: () => clock, ...extra });
  return { table, setNow: (t: number) => (clock = t) };
}

function loaded(now = NOW) {
  const t = freshTable(now);
  for (const m of graph.messages) t.table.ingest(m);
  return t;
}

/** A newer (or otherwise changed) update for channel `i`, signed by the right node. */
function update(i: number, direction: 0 | 1, timestamp: number, change: Partial<ReturnType<typeof syntheticUpdateFields>> = {}) {
  const c = graph.channels[i]!;
  const key = graph.nodes[direction === 0 ? c.node1 : c.node2]!.secretKey;
  return signChannelUpdate(crypto, { ...syntheticUpdateFields(mainnet, c.scid, direction, timestamp), ...change }, key);
}

test('a whole small graph is accepted, counted and iterable', (t) => {
  const { table } = freshTable();
  const decisions = graph.messages.map((m) => table.ingest(m));
  t.true(decisions.every((d) => d.accepted), JSON.stringify(decisions.find((d) => !d.accepted)));
  t.deepEqual(table.counts(), { channels: 8, channelUpdates: 16, nodes: 6, nodeAnnouncements: graph.nodeAnnouncements.length });
  const scids = [...table.channels()].map((c) => c.scid);
  t.deepEqual(scids, [...scids].sort((a, b) => (a < b ? -1 : 1)));
  const first = table.getChannel(graph.channels[0]!.scid)!;
  t.deepEqual(first.announcement, graph.channels[0]!.announcement);
  t.deepEqual(first.updates[0], graph.channels[0]!.updates[0]);
  t.deepEqual(first.timestamps, [NOW - 3600, NOW - 3600]);
  t.is(first.nodeId1Hex, hex(graph.nodes[graph.channels[0]!.node1]!.nodeId));
  t.is([...table.nodes()].length, 6);
  t.is(table.getNode(graph.nodes[0]!.nodeId)!.channelCount > 0, true);
  const d = decisions[0]!;
  t.deepEqual(d, { accepted: true, kind: 'channel_announcement', key: scidToString(graph.channels[0]!.scid), replaced: false });
  t.like(decisions[1], { accepted: true, kind: 'channel_update', key: `${scidToString(graph.channels[0]!.scid)}/0`, replaced: false });
});

test('snapshot: announcements before their updates, node announcements after a channel of theirs, in batches', (t) => {
  const { table } = loaded();
  const snapshot = [...table.snapshot()];
  t.is(snapshot.length, graph.messages.length);
  // Feeding the snapshot to an empty table accepts everything in that order.
  const { table: replica } = freshTable();
  t.true(snapshot.every((m) => replica.ingest(m).accepted));
  t.deepEqual(replica.counts(), table.counts());
  const batches = [...table.snapshotBatches({ maxMessages: 5 })];
  t.true(batches.every((b) => b.length <= 5));
  t.deepEqual(batches.flat(), snapshot);
  const byBytes = [...table.snapshotBatches({ maxBytes: 600 })];
  t.true(byBytes.every((b) => b.length === 1 || b.reduce((n, m) => n + m.length, 0) <= 600));
  t.deepEqual(byBytes.flat(), snapshot);
});

test('malformed input: truncated, non-gossip and empty messages', (t) => {
  const { table } = freshTable();
  t.like(table.ingest(new Uint8Array(0)), { accepted: false, reason: 'malformed' });
  t.like(table.ingest(Uint8Array.of(0, 18, 0, 0)), { accepted: false, reason: 'malformed' });
  t.like(table.ingest(graph.channels[0]!.announcement.subarray(0, 300)), { accepted: false, reason: 'malformed', kind: 'channel_announcement' });
  t.like(table.ingest(graph.channels[0]!.updates[0].subarray(0, 100)), { accepted: false, reason: 'malformed', kind: 'channel_update' });
  t.like(table.ingest(graph.nodeAnnouncements[0]!.subarray(0, 80)), { accepted: false, reason: 'malformed', kind: 'node_announcement' });
  t.true(PEER_FAULT_REASONS.has('malformed'));
});

test('bad-signature for each type; nothing is stored', (t) => {
  const { table } = freshTable();
  const ann = graph.channels[0]!.announcement;
  t.like(table.ingest(flipped(ann, ann.length - 1)), { accepted: false, reason: 'bad-signature', kind: 'channel_announcement' });
  t.is(table.counts().channels, 0);
  table.ingest(ann);
  const u = graph.channels[0]!.updates[1];
  t.like(table.ingest(flipped(u, u.length - 1)), { accepted: false, reason: 'bad-signature', kind: 'channel_update' });
  // An update for direction 0 signed by node 2: the signer is chosen by channel_flags.
  const c = graph.channels[0]!;
  const wrongSigner = signChannelUpdate(crypto, syntheticUpdateFields(mainnet, c.scid, 0, NOW), graph.nodes[c.node2]!.secretKey);
  t.like(table.ingest(wrongSigner), { accepted: false, reason: 'bad-signature' });
  const nodeOfChannel = buildNodeAnnouncement({ secretKey: graph.nodes[c.node1]!.secretKey, alias: 'x', color: '#000000', addresses: [], features: new Uint8Array(0), timestamp: NOW });
  // Byte 106: rgb_color (no features), inside the signed part.
  t.like(table.ingest(flipped(nodeOfChannel, 106)), { accepted: false, reason: 'bad-signature', kind: 'node_announcement' });
  t.is(table.counts().channelUpdates, 0);
});

test('wrong-chain for announcements and updates', (t) => {
  const { table } = freshTable();
  const testnet = syntheticGraph({ nodes: 3, channels: 1, timestamp: NOW, seed: 'testnet', network: 'testnet' });
  t.like(table.ingest(testnet.channels[0]!.announcement), { accepted: false, reason: 'wrong-chain' });
  table.ingest(graph.channels[0]!.announcement);
  const c = graph.channels[0]!;
  const u = signChannelUpdate(crypto, syntheticUpdateFields(chainHash('testnet'), c.scid, 0, NOW), graph.nodes[c.node1]!.secretKey);
  t.like(table.ingest(u), { accepted: false, reason: 'wrong-chain', kind: 'channel_update' });
  const { table: testTable } = freshTable(NOW, { network: 'testnet' });
  t.like(testTable.ingest(testnet.channels[0]!.announcement), { accepted: true });
});

test('unknown-channel and no-channel-for-node', (t) => {
  const { table } = freshTable();
  t.like(table.ingest(graph.channels[0]!.updates[0]), { accepted: false, reason: 'unknown-channel', key: `${scidToString(graph.channels[0]!.scid)}/0` });
  t.like(table.ingest(graph.nodeAnnouncements[0]!), { accepted: false, reason: 'no-channel-for-node' });
});

test('stale, duplicate and conflict for channel_update (BOLT 7 same-timestamp rules)', (t) => {
  const { table } = loaded();
  const c = graph.channels[2]!;
  t.like(table.ingest(c.updates[0]), { accepted: false, reason: 'duplicate' });
  t.like(table.ingest(update(2, 0, NOW - 7200)), { accepted: false, reason: 'stale' });
  // Same timestamp, same parameters, another signature (re-signed or s-flipped): still a duplicate, and
  // no signature work is spent on it.
  t.like(table.ingest(flipped(c.updates[0], 10)), { accepted: false, reason: 'duplicate' });
  // Same timestamp, different parameters, validly signed: a conflict; the first one stays.
  t.like(table.ingest(update(2, 0, NOW - 3600, { feeBaseMsat: 5 })), { accepted: false, reason: 'conflict' });
  t.deepEqual(table.getChannel(c.scid)!.updates[0], c.updates[0]);
  // Same timestamp, different parameters, bad signature: a bad signature, not a conflict.
  t.like(table.ingest(flipped(update(2, 0, NOW - 3600, { feeBaseMsat: 5 }), 130)), { accepted: false, reason: 'bad-signature' });
});

test('newer channel_update and node_announcement replace older ones', (t) => {
  const { table } = loaded();
  const changes: TableChange[] = [];
  table.onChange((c) => changes.push(c));
  const c = graph.channels[3]!;
  const newer = update(3, 1, NOW - 60, { feeProportionalMillionths: 777 });
  t.deepEqual(table.ingest(newer, ['peer-a', 'peer-b']), { accepted: true, kind: 'channel_update', key: `${scidToString(c.scid)}/1`, replaced: true, timestamp: NOW - 60 });
  t.deepEqual(table.getChannel(c.scid)!.updates[1], newer);
  t.deepEqual(table.getChannel(c.scid)!.timestamps, [NOW - 3600, NOW - 60]);
  t.is(table.counts().channelUpdates, 16);
  t.like(changes[0], { type: 'accepted', kind: 'channel_update', replaced: true, origins: ['peer-a', 'peer-b'], scid: c.scid });
  t.is(decodeChannelUpdate(table.getChannel(c.scid)!.updates[1]!).feeProportionalMillionths, 777);
  // The old one is now stale.
  t.like(table.ingest(c.updates[1]), { accepted: false, reason: 'stale' });

  const node = graph.nodes[c.node1]!;
  // Views are live: copy what we compare later.
  const before = { timestamp: table.getNode(node.nodeId)!.timestamp };
  const newerNode = buildNodeAnnouncement({ secretKey: node.secretKey, alias: 'renamed', color: '#ff0000', addresses: ['127.0.0.1:9735'], features: new Uint8Array(0), timestamp: before.timestamp + 1 });
  t.like(table.ingest(newerNode), { accepted: true, kind: 'node_announcement', replaced: true });
  t.deepEqual(table.getNode(node.nodeId)!.announcement, newerNode);
  t.like(table.ingest(newerNode), { accepted: false, reason: 'duplicate' });
  // BOLT 7: a node_announcement must be strictly newer.
  const sameTime = buildNodeAnnouncement({ secretKey: node.secretKey, alias: 'other', color: '#ff0000', addresses: [], features: new Uint8Array(0), timestamp: before.timestamp + 1 });
  t.like(table.ingest(sameTime), { accepted: false, reason: 'stale' });
  t.is(table.counts().nodeAnnouncements, graph.nodeAnnouncements.length);
});

test('too-old and too-far-in-future (one day, as Core Lightning)', (t) => {
  const { table } = loaded();
  t.like(table.ingest(update(1, 0, NOW - TWO_WEEKS - 1)), { accepted: false, reason: 'too-old' });
  t.like(table.ingest(update(1, 0, NOW + 86_400 + 1)), { accepted: false, reason: 'too-far-in-future' });
  t.like(table.ingest(update(1, 0, NOW + 86_400)), { accepted: true });
  const node = graph.nodes[graph.channels[1]!.node2]!;
  const future = buildNodeAnnouncement({ secretKey: node.secretKey, alias: 'f', color: '#000000', addresses: [], features: new Uint8Array(0), timestamp: NOW + 90_000 });
  t.like(table.ingest(future), { accepted: false, reason: 'too-far-in-future', kind: 'node_announcement' });
  // node_announcements have no age limit by default (nodes re-announce rarely); configurable.
  const old = buildNodeAnnouncement({ secretKey: node.secretKey, alias: 'o', color: '#000000', addresses: [], features: new Uint8Array(0), timestamp: NOW - 10 * TWO_WEEKS });
  const { table: fresh } = freshTable();
  fresh.ingest(graph.channels[1]!.announcement);
  t.like(fresh.ingest(old), { accepted: true });
  const { table: strict } = freshTable(NOW, { maxNodeAnnouncementAgeSeconds: TWO_WEEKS });
  strict.ingest(graph.channels[1]!.announcement);
  t.like(strict.ingest(old), { accepted: false, reason: 'too-old' });
});

test('duplicate and conflicting channel_announcements', (t) => {
  const { table } = loaded();
  t.like(table.ingest(graph.channels[0]!.announcement), { accepted: false, reason: 'duplicate' });
  // Another announcement for the same scid with other keys.
  const c = graph.channels[0]!;
  const keys = ['a', 'b', 'c', 'd'].map((l) => syntheticKey('conflict', l));
  const [n1, n2] = [crypto.publicKey(keys[0]!), crypto.publicKey(keys[1]!)].sort(Buffer.compare) as [Uint8Array, Uint8Array];
  const sk1 = hex(n1) === hex(crypto.publicKey(keys[0]!)) ? keys[0]! : keys[1]!;
  const sk2 = sk1 === keys[0] ? keys[1]! : keys[0]!;
  const other = signChannelAnnouncement(
    crypto,
    { features: new Uint8Array(0), chainHash: mainnet, shortChannelId: c.scid, nodeId1: n1, nodeId2: n2, bitcoinKey1: crypto.publicKey(keys[2]!), bitcoinKey2: crypto.publicKey(keys[3]!) },
    { node1: sk1, node2: sk2, bitcoin1: keys[2]!, bitcoin2: keys[3]! },
  );
  t.like(table.ingest(other), { accepted: false, reason: 'conflict' });
  t.deepEqual(table.getChannel(c.scid)!.announcement, c.announcement);
});

test('prune: both-stale (default) keeps a channel with one fresh side; either-stale does not; lonely nodes go', (t) => {
  for (const policy of ['both-stale', 'either-stale'] as const) {
    const { table, setNow } = freshTable(NOW, { prunePolicy: policy });
    for (const m of graph.messages) table.ingest(m);
    const removed: TableChange[] = [];
    table.onChange((c) => removed.push(c));
    // Two weeks later, channel 0 gets a fresh update in one direction only.
    setNow(NOW + TWO_WEEKS);
    t.like(table.ingest(update(0, 0, NOW + TWO_WEEKS - 10)), { accepted: true });
    t.deepEqual(table.prune(NOW + TWO_WEEKS - 3600), { channels: 0, nodes: 0 }, 'nothing is older than two weeks yet');
    const result = table.prune(NOW + TWO_WEEKS);
    const expectChannels = policy === 'both-stale' ? 7 : 8;
    t.is(result.channels, expectChannels, policy);
    t.is(table.counts().channels, 8 - expectChannels);
    t.is(removed.filter((r) => r.type === 'channel-removed').length, expectChannels);
    t.is(removed.filter((r) => r.type === 'node-removed').length, result.nodes);
    if (policy === 'both-stale') {
      t.is(table.counts().nodes, 2);
      t.is(table.counts().channelUpdates, 2);
      t.true(table.counts().nodeAnnouncements <= 2);
    } else {
      t.deepEqual(table.counts(), { channels: 0, channelUpdates: 0, nodes: 0, nodeAnnouncements: 0 });
    }
    // A node of a pruned channel cannot announce itself any more.
    t.like(table.ingest(graph.nodeAnnouncements[graph.nodeAnnouncements.length - 1]!), { accepted: false });
  }
});

test('prune: a channel whose updates never came goes two weeks after it was announced', (t) => {
  const { table } = freshTable();
  table.ingest(graph.channels[0]!.announcement);
  t.is(table.prune(NOW + TWO_WEEKS - 1).channels, 0);
  t.is(table.prune(NOW + TWO_WEEKS + 1).channels, 1);
  t.false(table.removeChannel(graph.channels[0]!.scid));
});

test('removeChannel (funding spent) removes the channel and its now-lonely nodes', (t) => {
  const { table } = loaded();
  const before = table.counts();
  t.true(table.removeChannel(graph.channels[5]!.scid));
  t.is(table.counts().channels, before.channels - 1);
  t.like(table.ingest(graph.channels[5]!.updates[0]), { accepted: false, reason: 'unknown-channel' });
  // Re-announcing it works again.
  t.like(table.ingest(graph.channels[5]!.announcement), { accepted: true });
});

test('restore from persisted rows: same table, no change events, bad rows skipped', (t) => {
  const { table } = loaded();
  const { table: copy } = freshTable();
  let events = 0;
  copy.onChange(() => events++);
  for (const c of table.channels()) t.true(copy.restoreChannel({ announcement: c.announcement, updates: c.updates, receivedAt: c.receivedAt }));
  for (const n of table.nodes()) if (n.announcement) t.true(copy.restoreNodeAnnouncement(n.announcement));
  t.is(events, 0);
  t.deepEqual(copy.counts(), table.counts());
  t.deepEqual([...copy.snapshot()], [...table.snapshot()]);
  t.false(copy.restoreChannel({ announcement: new Uint8Array(10), updates: [undefined, undefined], receivedAt: 0 }));
  t.false(copy.restoreNodeAnnouncement(new Uint8Array(5)));
});

test('funding check: off => ingest; on => ingestAsync consults the checker and records capacity', async (t) => {
  const asked: bigint[] = [];
  const checker: FundingChecker = {
    description: 'fake',
    async check(q) {
      asked.push(q.scid);
      if (q.scid === graph.channels[1]!.scid) return { ok: false, reason: 'funding-spent', detail: 'spent' };
      if (q.scid === graph.channels[2]!.scid) return { ok: false, reason: 'funding-check-failed', detail: 'rpc down' };
      return { ok: true, capacitySat: 1_000_000, confirmations: 10 };
    },
  };
  const logs: string[] = [];
  const log = { info: (_: object, msg?: string) => logs.push(msg ?? ''), warn: () => {} };
  freshTable(NOW, { log });
  t.regex(logs[0]!, /funding-output check is off/);
  const { table } = freshTable(NOW, { fundingChecker: checker, log });
  t.regex(logs[1]!, /checked through fake/);
  t.like(table.ingest(graph.channels[0]!.announcement), { accepted: false, reason: 'funding-unchecked' });
  t.like(await table.ingestAsync(graph.channels[0]!.announcement), { accepted: true });
  t.is(table.getChannel(graph.channels[0]!.scid)!.capacitySat, 1_000_000);
  t.like(await table.ingestAsync(graph.channels[1]!.announcement), { accepted: false, reason: 'funding-spent' });
  t.like(await table.ingestAsync(graph.channels[2]!.announcement), { accepted: false, reason: 'funding-check-failed' });
  // Signature failures and duplicates never reach the chain backend.
  t.like(await table.ingestAsync(flipped(graph.channels[3]!.announcement, 400)), { accepted: false, reason: 'bad-signature' });
  t.like(await table.ingestAsync(graph.channels[0]!.announcement), { accepted: false, reason: 'duplicate' });
  t.deepEqual(asked, [graph.channels[0]!.scid, graph.channels[1]!.scid, graph.channels[2]!.scid]);
  // Two copies racing: one accepted, one duplicate.
  const [a, b] = await Promise.all([table.ingestAsync(graph.channels[4]!.announcement), table.ingestAsync(graph.channels[4]!.announcement)]);
  t.deepEqual([a.accepted, b.accepted].sort(), [false, true]);
  t.like(await table.ingestAsync(graph.channels[0]!.updates[0]), { accepted: true, kind: 'channel_update' });
});

test('a real mainnet mini-graph (fixture) at its own date', (t) => {
  const real = fixtureMessages('gossip-validation/real-mini.gossip');
  // Just after the archive's last message (2025-11-18).
  const { table } = freshTable(1_763_472_000);
  const reasons = new Map<string, number>();
  for (const m of real) {
    const d = table.ingest(m);
    const k = d.accepted ? `ok ${d.kind}` : d.reason;
    reasons.set(k, (reasons.get(k) ?? 0) + 1);
  }
  t.is(reasons.get('ok channel_announcement'), 4);
  t.is(reasons.get('bad-signature'), undefined);
  t.is(table.counts().channels, 4);
  t.is(table.counts().channelUpdates, 8);
  // Every update is accepted or loses to a newer one (archive order is not always time order).
  const updates = real.filter((m) => typeOf(m) === 258).length;
  t.is((reasons.get('ok channel_update') ?? 0) + (reasons.get('stale') ?? 0) + (reasons.get('too-old') ?? 0), updates);
  t.true((reasons.get('ok node_announcement') ?? 0) > 0);
  for (const c of table.channels()) {
    for (const d of [0, 1] as const) {
      const latest = real
        .filter((m) => typeOf(m) === 258 && decodeChannelUpdate(m).shortChannelId === c.scid && (decodeChannelUpdate(m).channelFlags & 1) === d)
        .reduce((a, m) => Math.max(a, decodeChannelUpdate(m).timestamp), 0);
      t.is(c.timestamps[d], latest, `${scidToString(c.scid)}/${d} keeps the newest`);
    }
    t.is(decodeChannelAnnouncement(c.announcement).shortChannelId, c.scid);
  }
});

test('startPruning prunes on its timer and stops on abort', async (t) => {
  const { table, setNow } = loaded();
  const controller = new AbortController();
  const removed = new Promise<TableChange>((resolve) => table.onChange((c) => c.type === 'channel-removed' && resolve(c)));
  table.startPruning(0.02, controller.signal);
  setNow(NOW + 2 * TWO_WEEKS);
  // The pruning timer is unref'd (it must not keep a back alive): keep this test's event loop alive.
  const keepAlive = setInterval(() => undefined, 1000);
  t.like(await removed, { type: 'channel-removed', why: 'pruned' });
  clearInterval(keepAlive);
  controller.abort();
  t.is(table.counts().channels, 0);
});
