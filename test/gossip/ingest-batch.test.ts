// ingestBatch(): the same decisions, events and table as ingesting item by item, with signatures verified
// in worker threads (forced here with tiny thresholds) or on the calling thread.
import test from 'ava';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { syntheticGraph } from '../../src/lightning/gossip/index.js';
import { RoutingTable, type Decision, type RoutingTableOptions } from '../../src/back/gossip/index.js';
import { packSignatureJobs, verifyPackedJobs, VERDICT_OK, VERDICT_UNREADABLE, type SignatureJob } from '../../src/back/gossip/signature-jobs.js';
import { flipped, typeOf } from './helpers.js';

const NOW = 1_770_000_000;
const graph = syntheticGraph({ nodes: 12, channels: 30, timestamp: NOW - 3600, seed: 'batch-test' });

/** A batch with every interesting case: in-batch dependencies, duplicates, bad signatures, wrong order. */
function mixedBatch(): Uint8Array[] {
  const messages = [...graph.messages];
  const announcements = messages.filter((m) => typeOf(m) === 256);
  const updates = messages.filter((m) => typeOf(m) === 258);
  const nodes = messages.filter((m) => typeOf(m) === 257);
  return [
    updates[0]!, // before its channel: unknown-channel
    ...messages,
    flipped(announcements[1]!, 300), // same scid, different bytes: conflict (signature never checked)
    flipped(updates[3]!, 120), // bad signature on a newer-looking copy
    flipped(updates[4]!, 10), // flipped signature byte
    flipped(nodes[0]!, 100),
    updates[5]!, // duplicate
    messages[0]!.subarray(0, 40), // malformed
  ];
}

async function compare(t: import('ava').ExecutionContext, options: RoutingTableOptions) {
  const batch = mixedBatch();
  const origins = batch.map((_, i) => [`peer${i % 3}`]);
  const sequential = new RoutingTable({ now: () => NOW, signatureWorkers: 0 });
  const seqEvents: string[] = [];
  sequential.onChange((c) => seqEvents.push(`${c.type}:${'key' in c ? c.key : ''}:${c.type === 'accepted' ? c.origins.join() : ''}`));
  const expected: Decision[] = batch.map((m, i) => sequential.ingest(m, origins[i]));

  const batched = new RoutingTable({ now: () => NOW, ...options });
  const events: string[] = [];
  batched.onChange((c) => events.push(`${c.type}:${'key' in c ? c.key : ''}:${c.type === 'accepted' ? c.origins.join() : ''}`));
  const decisions = await batched.ingestBatch(batch, origins);
  await batched.close();

  t.deepEqual(decisions, expected);
  t.deepEqual(events, seqEvents);
  t.deepEqual(batched.counts(), sequential.counts());
  t.deepEqual([...batched.snapshot()], [...sequential.snapshot()]);
  const reasons = new Set(decisions.filter((d) => !d.accepted).map((d) => (d.accepted ? '' : d.reason)));
  t.deepEqual([...reasons].sort(), ['bad-signature', 'conflict', 'duplicate', 'malformed', 'no-channel-for-node', 'unknown-channel']);
  t.is(batched.counts().channels, 30);
}

test('ingestBatch in worker threads decides exactly like ingest() item by item', async (t) => {
  await compare(t, { signatureWorkers: 2, parallelThreshold: 1, jobsPerWorkerBatch: 7 });
});

test('ingestBatch on the calling thread (no workers) decides exactly like ingest()', async (t) => {
  await compare(t, { signatureWorkers: 0 });
});

test('ingestBatch after close() falls back to the calling thread', async (t) => {
  const table = new RoutingTable({ now: () => NOW, signatureWorkers: 1, parallelThreshold: 1 });
  await table.ingestBatch(graph.messages.slice(0, 3));
  await table.close();
  const decisions = await table.ingestBatch(graph.messages.slice(3));
  t.true(decisions.every((d) => d.accepted));
  t.is(table.counts().channels, 30);
});

test('packed signature jobs: verdicts name the first failing check; a truncated buffer is unreadable, not a crash', (t) => {
  const crypto = defaultCrypto();
  const ann = graph.messages.find((m) => typeOf(m) === 256)!;
  // Keys of a channel_announcement: node_id_1 at 258 + 2 + len(features) + 32 + 8.
  const at = 258 + 2 + ((ann[258]! << 8) | ann[259]!) + 40;
  const keys = [0, 1, 2, 3].map((k) => ann.subarray(at + 33 * k, at + 33 * (k + 1)));
  const job = (message: Uint8Array, order = [0, 1, 2, 3]): SignatureJob => ({ message, signedFrom: 258, checks: order.map((k, i) => ({ signatureAt: 2 + 64 * i, publicKey: keys[k]! })) });
  const buffer = packSignatureJobs([job(ann), job(ann, [0, 1, 3, 2]), job(flipped(ann, 70))]);
  t.deepEqual([...verifyPackedJobs(crypto, buffer)], [VERDICT_OK, 3, 2]);
  t.deepEqual([...verifyPackedJobs(crypto, buffer.slice(0, 300))], [VERDICT_OK === 0 ? VERDICT_UNREADABLE : 0, VERDICT_UNREADABLE, VERDICT_UNREADABLE]);
  t.deepEqual([...verifyPackedJobs(crypto, new ArrayBuffer(2))], []);
});
