// The front's replica loaded with the synthetic mainnet-size graph answers the queries in queries.gossip
// exactly as the reference replies there (../shared/data/gossip/synthetic).
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { channelRangeReplies, GossipReplica, parseGossipItem, shortIdReplies } from '../../src/front/gossip/index.js';
import {
  decodeMessage,
  decodeReplyChannelRange,
  MAX_MESSAGE_LENGTH,
  readGossipRecords,
  type QueryChannelRange,
  type QueryShortChannelIds,
  type ReplyChannelRange,
} from '../../src/lightning/wire/index.js';
import { chainHash } from '../../src/lightning/chains.js';

const dir = path.resolve(process.cwd(), '../shared/data/gossip/synthetic');
const replica = new GossipReplica({ chainHash: chainHash('bitcoin') });
const graphBytes = readFileSync(path.join(dir, 'graph.gossip'));
const load = replica.applyBatch([...readGossipRecords(graphBytes)]);
const records = [...readGossipRecords(readFileSync(path.join(dir, 'queries.gossip')))].map((m) => ({ raw: m, decoded: decodeMessage(m) }));
const rangeQuery = records.find((r) => r.decoded.type === 'query_channel_range')!.decoded as QueryChannelRange;
const reference = records.filter((r) => r.decoded.type === 'reply_channel_range').map((r) => r.decoded as ReplyChannelRange);
const idsQuery = records.find((r) => r.decoded.type === 'query_short_channel_ids')!.decoded as QueryShortChannelIds;
const referenceEnd = records.find((r) => r.decoded.type === 'reply_short_channel_ids_end')!.raw;

function flatten(replies: ReplyChannelRange[]): Map<bigint, string> {
  const out = new Map<bigint, string>();
  for (const r of replies) {
    r.shortChannelIds.values.forEach((id, i) => {
      const ts = r.timestamps!.values[i]!;
      const cs = r.checksums![i]!;
      out.set(id, `${ts.timestamp1}/${ts.timestamp2}/${cs.checksum1}/${cs.checksum2}`);
    });
  }
  return out;
}

test('the whole synthetic graph loads: 50,808 channels, 101,616 updates, 14,688 node announcements', (t) => {
  t.is(load.invalid + load.orphans + load.stale, 0);
  t.deepEqual({ ...replica.stats(), bytes: 0 }, { channels: 50_808, updates: 101_616, nodes: replica.stats().nodes, nodeAnnouncements: 14_688, bytes: 0 });
});

test('query_channel_range over everything: the same scids, timestamps and checksums as the 19 reference replies', (t) => {
  t.is(reference.length, 19);
  const ours = [...channelRangeReplies(replica, rangeQuery, true)].map((m) => {
    t.true(m.length <= MAX_MESSAGE_LENGTH);
    return decodeReplyChannelRange(m);
  });
  const expected = flatten(reference);
  const got = flatten(ours);
  t.is(expected.size, 50_808);
  t.is(got.size, expected.size);
  let mismatches = 0;
  for (const [id, value] of expected) if (got.get(id) !== value) mismatches++;
  t.is(mismatches, 0);
  t.is(ours.at(-1)!.syncComplete, 1);
  t.true(ours.slice(0, -1).every((r) => r.syncComplete === 0));
  for (let i = 1; i < ours.length; i++) t.is(ours[i]!.firstBlocknum, ours[i - 1]!.firstBlocknum + ours[i - 1]!.numberOfBlocks);
  t.is(ours.at(-1)!.firstBlocknum + ours.at(-1)!.numberOfBlocks, 0xffffffff);
});

test('with the reference chunk size (2,700 ids), the replies are the reference replies, block ranges included', (t) => {
  const ours = [...channelRangeReplies(replica, rangeQuery, true, 2700)].map((m) => decodeReplyChannelRange(m));
  t.deepEqual(
    ours.map((r) => [r.firstBlocknum, r.numberOfBlocks, r.syncComplete, r.shortChannelIds.values.length]),
    reference.map((r) => [r.firstBlocknum, r.numberOfBlocks, r.syncComplete, r.shortChannelIds.values.length]),
  );
  const raw = records.filter((r) => r.decoded.type === 'reply_channel_range').map((r) => Buffer.from(r.raw));
  const mine = [...channelRangeReplies(replica, rangeQuery, true, 2700)].map((m) => Buffer.from(m));
  t.true(mine.every((m, i) => m.equals(raw[i]!)), 'byte for byte');
});

test('query_short_channel_ids (498 ids): announcements, both updates and node announcements, then the same end', (t) => {
  t.is(idsQuery.shortChannelIds.values.length, 498);
  const replies = [...shortIdReplies(replica, idsQuery, true)];
  t.deepEqual(Buffer.from(replies.at(-1)!), Buffer.from(referenceEnd));
  const items = replies.slice(0, -1).map((m) => parseGossipItem(m));
  const announced = items.flatMap((i) => (i.kind === 'channel_announcement' ? [i.scid] : []));
  t.deepEqual(announced, idsQuery.shortChannelIds.values);
  const updates = new Set(items.flatMap((i) => (i.kind === 'channel_update' ? [`${i.scid}/${i.direction}`] : [])));
  for (const id of idsQuery.shortChannelIds.values) {
    t.true(updates.has(`${id}/0`) && updates.has(`${id}/1`));
  }
  const nodes = items.flatMap((i) => (i.kind === 'node_announcement' ? [i.nodeId] : []));
  t.is(new Set(nodes).size, nodes.length, 'each node once');
  const endpoints = new Set(idsQuery.shortChannelIds.values.flatMap((id) => [replica.channel(id)!.nodeId1, replica.channel(id)!.nodeId2]));
  t.deepEqual(new Set(nodes), new Set([...endpoints].filter((id) => replica.node(id)?.announcement)));
});

test('the gossip_timestamp_filter there (everything) dumps the whole graph', (t) => {
  const f = records.find((r) => r.decoded.type === 'gossip_timestamp_filter')!.decoded;
  if (f.type !== 'gossip_timestamp_filter') return t.fail();
  let count = 0;
  for (const _ of replica.messagesInWindow({ first: f.firstTimestamp, range: f.timestampRange })) count++;
  t.is(count, 50_808 + 101_616 + 14_688);
});
