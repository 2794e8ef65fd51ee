// The back's routing table over the synthetic mainnet-size graph (dated 2026-02-03): every announcement and
// update accepted, churn replaces, bad gossip rejected with its reason, and a restart reloads from SQLite.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGossipRecords } from '../../src/lightning/wire/index.js';
import { GossipStore, RoutingTable, type Decision } from '../../src/back/gossip/index.js';

const SYNTHETIC = path.resolve(process.cwd(), '../shared/data/gossip/synthetic');
/** 2026-02-03T00:00:00Z: the snapshot date of graph.gossip (manifest.json snapshot_ts). */
const GRAPH_DATE = 1_770_076_800;

function tally(decisions: Decision[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of decisions) {
    const k = d.accepted ? `ok ${d.kind}${d.replaced ? ' replaced' : ''}` : d.reason;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function snapshotDigest(table: RoutingTable): string {
  const h = createHash('sha256');
  for (const m of table.snapshot()) h.update(m);
  return h.digest('hex');
}

test('graph.gossip, churn.gossip, rejections and a restart from SQLite', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gossip-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = path.join(dir, 'gossip.sqlite');
  const table = new RoutingTable({ now: () => GRAPH_DATE });
  const store = GossipStore.open(dbPath);
  store.attach(table);

  const graph = [...readGossipRecords(new Uint8Array(readFileSync(path.join(SYNTHETIC, 'graph.gossip'))))];
  let started = performance.now();
  const cpu0 = process.cpuUsage();
  const graphTally = tally(graph.map((m) => table.ingest(m, ['synthetic'])));
  const cpu = process.cpuUsage(cpu0);
  t.log(`graph: ${graph.length} messages in ${((performance.now() - started) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  t.deepEqual(graphTally, { 'ok channel_announcement': 50_808, 'ok channel_update': 101_616, 'ok node_announcement': 14_688 });
  t.deepEqual(table.counts(), { channels: 50_808, channelUpdates: 101_616, nodes: 17_324, nodeAnnouncements: 14_688 });

  const churn = [...readGossipRecords(new Uint8Array(readFileSync(path.join(SYNTHETIC, 'churn.gossip'))))];
  t.deepEqual(tally(churn.map((m) => table.ingest(m))), { 'ok channel_update replaced': 20_000 });
  t.is(table.counts().channelUpdates, 101_616);

  // Replaying the graph's updates: the directions churn touched (several churn updates each) have newer
  // ones now (stale), the rest are the very updates we hold (duplicate). Neither costs a signature check.
  const churned = new Set(churn.map((m) => `${Buffer.from(m.subarray(98, 106)).toString('hex')}/${m[111]! & 1}`)).size;
  const graphUpdates = graph.filter((m) => m[0] === 1 && m[1] === 2);
  const replay = tally(graphUpdates.map((m) => table.ingest(m)));
  t.deepEqual(replay, { stale: churned, duplicate: 101_616 - churned });
  t.true(churned > 15_000);

  // Invalid signatures: a held (latest) churn update with a changed field: same timestamp, so it is neither
  // stale nor a duplicate, and its signature is checked.
  const latest = new Map<string, Uint8Array>();
  for (const m of churn) latest.set(`${Buffer.from(m.subarray(98, 106)).toString('hex')}/${m[111]! & 1}`, m);
  const forged = [...latest.values()].slice(0, 500).map((m) => {
    const c = m.slice();
    c[c.length - 9]! ^= 0x01; // inside htlc_maximum_msat (138-byte updates)
    return c;
  });
  t.deepEqual(tally(forged.map((m) => table.ingest(m))), { 'bad-signature': 500 });
  const forgedAnnouncements = graph.slice(0, 300).filter((m) => m[1] === 0).map((m) => {
    const c = m.slice();
    c[300]! ^= 0x01;
    return c;
  });
  t.deepEqual(tally(forgedAnnouncements.map((m) => table.ingest(m))), { conflict: forgedAnnouncements.length });
  // Unknown channels: an update whose short_channel_id names no announced channel (block 1).
  const unknown = churn.slice(0, 200).map((m) => {
    const c = m.slice();
    c.fill(0, 98, 101);
    c[100] = 1;
    return c;
  });
  t.deepEqual(tally(unknown.map((m) => table.ingest(m))), { 'unknown-channel': 200 });
  // Old updates: the graph seen from a month later.
  const later = new RoutingTable({ now: () => GRAPH_DATE + 30 * 86_400 });
  const laterTally = tally(graph.slice(0, 3000).map((m) => later.ingest(m)));
  t.is(laterTally['too-old'], 2000);

  // Restart: everything comes back from SQLite.
  const digest = snapshotDigest(table);
  store.close();
  started = performance.now();
  const reopened = GossipStore.open(dbPath);
  t.is(reopened.integrityCheck(), 'ok');
  const restored = new RoutingTable({ now: () => GRAPH_DATE + 86_400 });
  let progressCalls = 0;
  const loaded = reopened.load(restored, { onProgress: () => progressCalls++ });
  t.log(`reload: ${loaded.channels} channels, ${loaded.nodes} node announcements in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  t.deepEqual(loaded, { channels: 50_808, nodes: 14_688, skipped: 0 });
  t.true(progressCalls >= 6);
  t.deepEqual(restored.counts(), table.counts());
  t.is(snapshotDigest(restored), digest);
  reopened.close();
});
