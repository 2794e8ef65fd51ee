// SQLite persistence of the routing table: write, reload, coalescing, removals, and kill -9 survival.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import { signChannelUpdate, syntheticGraph, syntheticUpdateFields } from '../../src/lightning/gossip/index.js';
import { GossipStore, RoutingTable, TWO_WEEKS, type LoadProgress } from '../../src/back/gossip/index.js';
import { decodeChannelUpdate } from '../../src/lightning/wire/index.js';
import { WRITER_BASE, WRITER_CHANNELS } from './helpers/store-writer.js';

const NOW = 1_770_000_000;
const graph = syntheticGraph({ nodes: 10, channels: 30, timestamp: NOW - 100, seed: 'store-test' });
const crypto = defaultCrypto();

function tempDb(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gossip-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'gossip.sqlite');
}

function newerUpdate(i: number, direction: 0 | 1, timestamp: number) {
  const c = graph.channels[i]!;
  return signChannelUpdate(crypto, { ...syntheticUpdateFields(chainHash('bitcoin'), c.scid, direction, timestamp), feeBaseMsat: timestamp % 1000 }, graph.nodes[direction === 0 ? c.node1 : c.node2]!.secretKey);
}

test('changes persist and a restart reloads the same table', (t) => {
  const path = tempDb(t);
  let now = NOW;
  const table = new RoutingTable({ now: () => now });
  const store = GossipStore.open(path, { flushIntervalMs: 10 });
  store.attach(table);
  for (const m of graph.messages) t.true(table.ingest(m).accepted);
  // Several replacements of one update before a flush: coalesced into one write of the last.
  for (let k = 1; k <= 5; k++) t.true(table.ingest(newerUpdate(0, 1, NOW + k)).accepted);
  t.true(store.pending < graph.messages.length + 5);
  t.true(table.removeChannel(graph.channels[29]!.scid));
  store.close();

  const reopened = GossipStore.open(path);
  t.is(reopened.integrityCheck(), 'ok');
  t.deepEqual(reopened.counts(), { channels: 29, updates: 58, nodes: table.counts().nodeAnnouncements });
  const progress: LoadProgress[] = [];
  const copy = new RoutingTable({ now: () => now });
  const result = reopened.load(copy, { onProgress: (p) => progress.push(p), progressEvery: 10 });
  t.deepEqual(result, { channels: 29, nodes: table.counts().nodeAnnouncements, skipped: 0 });
  t.deepEqual(copy.counts(), table.counts());
  t.deepEqual([...copy.snapshot()], [...table.snapshot()]);
  t.is(decodeChannelUpdate(copy.getChannel(graph.channels[0]!.scid)!.updates[1]!).timestamp, NOW + 5);
  t.true(progress.length >= 3);
  t.like(progress.at(-1), { channels: 29, totalChannels: 29 });
  t.is(copy.getChannel(graph.channels[3]!.scid)!.receivedAt, NOW);
  // After the reload, pruning works from the restored timestamps and is persisted too.
  reopened.attach(copy);
  now = NOW + TWO_WEEKS + 2; // channel 0 has an update at NOW + 5: the only fresh one
  t.is(copy.prune().channels, 28);
  reopened.flush();
  t.deepEqual(reopened.counts(), { channels: 1, updates: 2, nodes: copy.counts().nodeAnnouncements });
  reopened.close();
});

test('writeAll dumps a table filled without a store attached', (t) => {
  const path = tempDb(t);
  const table = new RoutingTable({ now: () => NOW });
  for (const m of graph.messages) table.ingest(m);
  const store = GossipStore.open(path);
  store.writeAll(table);
  t.deepEqual(store.counts(), { channels: 30, updates: 60, nodes: table.counts().nodeAnnouncements });
  const copy = new RoutingTable({ now: () => NOW });
  store.load(copy);
  t.deepEqual([...copy.snapshot()], [...table.snapshot()]);
  store.close();
});

test('a channel removed and re-added before a flush ends up with its latest state', (t) => {
  const path = tempDb(t);
  const table = new RoutingTable({ now: () => NOW });
  const store = GossipStore.open(path, { flushIntervalMs: 60_000 });
  store.attach(table);
  const c = graph.channels[0]!;
  table.ingest(c.announcement);
  table.ingest(c.updates[0]);
  table.removeChannel(c.scid);
  table.ingest(c.announcement);
  table.ingest(newerUpdate(0, 0, NOW + 1));
  store.flush();
  const copy = new RoutingTable({ now: () => NOW });
  store.load(copy);
  t.is(copy.getChannel(c.scid)!.timestamps[0], NOW + 1);
  store.close();
});

test('survives kill -9 in the middle of writes: intact file, whole transactions only, table loads', async (t) => {
  const path = tempDb(t);
  const script = fileURLToPath(new URL('./helpers/store-writer.js', import.meta.url));
  const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const rounds = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const m = [...buffered.matchAll(/round (\d+)\n/g)].at(-1);
      // Kill while the writer is busy: it flushes a transaction per round, back to back.
      if (m && Number(m[1]) >= 8) {
        child.kill('SIGKILL');
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (${code}): ${stderr}`));
    });
  });
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
  t.is(child.signalCode, 'SIGKILL');

  const store = GossipStore.open(path);
  t.is(store.integrityCheck(), 'ok');
  const table = new RoutingTable({ now: () => WRITER_BASE + 1000 });
  const result = store.load(table);
  t.is(result.skipped, 0);
  t.is(table.counts().channels, WRITER_CHANNELS);
  t.is(table.counts().channelUpdates, WRITER_CHANNELS * 2);
  const stamps = new Set([...table.channels()].flatMap((c) => c.timestamps));
  t.is(stamps.size, 1, `all updates from one committed round, got ${[...stamps].join(',')}`);
  const round = [...stamps][0]! - WRITER_BASE;
  t.true(round >= rounds, `committed round ${round} >= last reported ${rounds}`);
  store.close();
});
