// Every message of ../shared/data/gossip/{real,synthetic}/*.gossip decodes and re-encodes to the same bytes;
// reply_channel_range checksums and timestamps in queries.gossip match the channel_updates of graph.gossip.
import test from 'ava';
import { createReadStream, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  channelUpdateChecksum,
  decodeMessage,
  encodeMessage,
  streamGossipRecords,
  type ReplyChannelRange,
} from '../../src/lightning/wire/index.js';

const DATA = path.resolve(process.cwd(), '../shared/data/gossip');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const files = ['real', 'synthetic'].flatMap((dir) =>
  readdirSync(path.join(DATA, dir))
    .filter((f) => f.endsWith('.gossip'))
    .map((f) => `${dir}/${f}`),
);

test('the data set has the expected gossip files', (t) => {
  t.true(files.includes('synthetic/graph.gossip'));
  t.true(files.includes('real/lnresearch-gossip-2025.gossip'));
  t.true(files.length >= 7);
});

for (const file of files) {
  test(`${file}: every message decodes and re-encodes byte-identically`, async (t) => {
    const counts: Record<string, number> = {};
    let mismatches = 0;
    let first = '';
    // Streamed (64 KiB chunks), so the 40 MB graph never sits in memory whole.
    for await (const rec of streamGossipRecords(createReadStream(path.join(DATA, file), { highWaterMark: 1 << 16 }))) {
      const m = decodeMessage(rec);
      counts[m.type] = (counts[m.type] ?? 0) + 1;
      if (!sameBytes(encodeMessage(m), rec)) {
        mismatches++;
        first ||= m.type;
      }
    }
    t.is(mismatches, 0, `first mismatch: ${first}`);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    t.true(total > 0);
    t.log(file, JSON.stringify(counts));
    if (file === 'synthetic/graph.gossip') t.deepEqual(counts, { channel_announcement: 50808, channel_update: 101616, node_announcement: 14688 });
    if (file === 'real/lnresearch-gossip-2025.gossip') t.deepEqual(counts, { channel_announcement: 27, node_announcement: 2251, channel_update: 26504 });
  });
}

test('queries.gossip: reply_channel_range checksums and timestamps match graph.gossip updates (CRC32C w/o signature+timestamp)', async (t) => {
  const latest = new Map<bigint, { ts: [number, number]; sum: [number, number] }>();
  for await (const rec of streamGossipRecords(createReadStream(path.join(DATA, 'synthetic/graph.gossip')))) {
    if (rec[0] !== 0x01 || rec[1] !== 0x02) continue;
    const m = decodeMessage(rec);
    if (m.type !== 'channel_update') continue;
    const entry = latest.get(m.shortChannelId) ?? { ts: [0, 0], sum: [0, 0] };
    const dir = m.channelFlags & 1;
    if (m.timestamp > entry.ts[dir]!) {
      entry.ts[dir] = m.timestamp;
      entry.sum[dir] = channelUpdateChecksum(rec);
    }
    latest.set(m.shortChannelId, entry);
  }
  let checked = 0;
  let wrong = 0;
  for await (const rec of streamGossipRecords(createReadStream(path.join(DATA, 'synthetic/queries.gossip')))) {
    const m = decodeMessage(rec);
    if (m.type !== 'reply_channel_range') continue;
    const reply: ReplyChannelRange = m;
    t.truthy(reply.checksums && reply.timestamps);
    reply.shortChannelIds.values.forEach((scid, i) => {
      const want = latest.get(scid);
      const sums = reply.checksums![i]!;
      const ts = reply.timestamps!.values[i]!;
      checked++;
      if (!want || want.sum[0] !== sums.checksum1 || want.sum[1] !== sums.checksum2 || want.ts[0] !== ts.timestamp1 || want.ts[1] !== ts.timestamp2) wrong++;
    });
  }
  t.is(checked, 50808);
  t.is(wrong, 0);
});
