import test from 'ava';
import { channelRangeReplies, GossipReplica, maxIdsPerRangeReply, parseGossipItem, shortIdReplies } from '../../src/front/gossip/index.js';
import {
  decodeReplyChannelRange,
  decodeReplyShortChannelIdsEnd,
  MAX_MESSAGE_LENGTH,
  scidBlockHeight,
  scidFromParts,
  type QueryChannelRange,
  type ReplyChannelRange,
} from '../../src/lightning/wire/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import { generateGraph, makeChannelAnnouncement, makeUpdate, MAINNET } from './graph.js';

const graph = generateGraph({ channels: 6000, seed: 3 });
const replica = new GossipReplica({ chainHash: MAINNET });
replica.applyBatch(graph.all);
const sorted = [...graph.scids].sort((a, b) => (a < b ? -1 : 1));

function query(first: number, count: number, option?: bigint): QueryChannelRange {
  return { type: 'query_channel_range', chainHash: MAINNET, firstBlocknum: first, numberOfBlocks: count, ...(option !== undefined ? { queryOption: option } : {}) };
}

/** Checks every BOLT 7 rule on a series of replies and returns the ids they carry. */
function checkSeries(t: import('ava').ExecutionContext, q: QueryChannelRange, raw: Uint8Array[]): ReplyChannelRange[] {
  const replies = raw.map((m) => {
    t.true(m.length <= MAX_MESSAGE_LENGTH);
    return decodeReplyChannelRange(m);
  });
  const queryEnd = Math.min(q.firstBlocknum + q.numberOfBlocks, 0xffffffff);
  t.is(replies[0]!.firstBlocknum, q.firstBlocknum);
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i]!;
    t.is(r.syncComplete, i === replies.length - 1 ? 1 : 0);
    if (i > 0) t.is(r.firstBlocknum, replies[i - 1]!.firstBlocknum + replies[i - 1]!.numberOfBlocks, 'contiguous, no gap, no overlap');
    for (const id of r.shortChannelIds.values) {
      const block = scidBlockHeight(id);
      t.true(block >= r.firstBlocknum && block < r.firstBlocknum + r.numberOfBlocks, 'every id inside its reply range');
    }
  }
  const last = replies[replies.length - 1]!;
  t.is(last.firstBlocknum + last.numberOfBlocks, queryEnd);
  return replies;
}

test('query_channel_range over everything: exactly all channels, timestamps and checksums, each reply < 65535 bytes, contiguous', (t) => {
  const q = query(0, 0xffffffff, 3n);
  const replies = checkSeries(t, q, [...channelRangeReplies(replica, q, true)]);
  t.true(replies.length >= 3, `${replies.length} replies`);
  const ids = replies.flatMap((r) => r.shortChannelIds.values);
  t.deepEqual(ids, sorted);
  const timestamps = replies.flatMap((r) => r.timestamps!.values);
  const checksums = replies.flatMap((r) => r.checksums!);
  for (let i = 0; i < ids.length; i += 97) {
    const c = replica.channel(ids[i]!)!;
    t.deepEqual(timestamps[i], { timestamp1: c.timestamp1, timestamp2: c.timestamp2 });
    t.deepEqual(checksums[i], { checksum1: c.checksum1, checksum2: c.checksum2 });
  }
  t.true(replies.every((r) => r.shortChannelIds.values.length <= maxIdsPerRangeReply(true, true)));
  // no block split across replies
  for (let i = 1; i < replies.length; i++) {
    const prev = replies[i - 1]!.shortChannelIds.values;
    t.not(scidBlockHeight(prev[prev.length - 1]!), scidBlockHeight(replies[i]!.shortChannelIds.values[0]!));
  }
});

test('without query_option: no TLVs, more ids per reply; with a cap: more replies, same ids', (t) => {
  const plain = checkSeries(t, query(0, 0xffffffff), [...channelRangeReplies(replica, query(0, 0xffffffff), true)]);
  t.is(plain.length, 1); // 6000 ids fit in one plain reply
  t.is(plain[0]!.timestamps, undefined);
  t.is(plain[0]!.checksums, undefined);
  const capped = checkSeries(t, query(0, 0xffffffff, 1n), [...channelRangeReplies(replica, query(0, 0xffffffff, 1n), true, 500)]);
  t.true(capped.length >= 12);
  t.true(capped.every((r) => r.shortChannelIds.values.length <= 500 && r.checksums === undefined && r.timestamps !== undefined));
  t.deepEqual(capped.flatMap((r) => r.shortChannelIds.values), sorted);
});

test('a sub-range returns exactly the channels of its blocks and ends at the query end', (t) => {
  const first = scidBlockHeight(sorted[1000]!);
  const count = scidBlockHeight(sorted[3000]!) - first;
  const q = query(first, count, 3n);
  const replies = checkSeries(t, q, [...channelRangeReplies(replica, q, true, 400)]);
  const expected = sorted.filter((s) => scidBlockHeight(s) >= first && scidBlockHeight(s) < first + count);
  t.deepEqual(replies.flatMap((r) => r.shortChannelIds.values), expected);
  // empty range: one reply, complete
  const empty = checkSeries(t, query(1, 10), [...channelRangeReplies(replica, query(1, 10), true)]);
  t.is(empty.length, 1);
  t.is(empty[0]!.shortChannelIds.values.length, 0);
});

test('unknown chain: one empty reply with sync_complete 0', (t) => {
  const q = { ...query(0, 1000), chainHash: chainHash('testnet') };
  const [only, ...rest] = [...channelRangeReplies(replica, q, false)];
  t.is(rest.length, 0);
  const r = decodeReplyChannelRange(only!);
  t.is(r.syncComplete, 0);
  t.deepEqual(r.chainHash, chainHash('testnet'));
  t.is(r.shortChannelIds.values.length, 0);
});

test('a block with more channels than a reply holds is split over replies that all cover that block', (t) => {
  const small = new GossipReplica({ chainHash: MAINNET });
  const messages: Uint8Array[] = [];
  const ids: bigint[] = [];
  for (const [block, n] of [[100, 3], [200, 25], [300, 2]] as const) {
    for (let i = 0; i < n; i++) {
      const scid = scidFromParts(block, i + 1, 0);
      ids.push(scid);
      messages.push(makeChannelAnnouncement(scid, graph.nodeIds[0]!, graph.nodeIds[1]!), makeUpdate(scid, 0, 1_770_000_000));
    }
  }
  small.applyBatch(messages);
  const q = query(50, 1000, 3n);
  const replies = [...channelRangeReplies(small, q, true, 10)].map((m) => decodeReplyChannelRange(m));
  t.deepEqual(replies.flatMap((r) => r.shortChannelIds.values), ids);
  t.deepEqual(
    replies.map((r) => [r.firstBlocknum, r.numberOfBlocks, r.shortChannelIds.values.length]),
    [
      [50, 150, 3], // up to the big block
      [200, 1, 10],
      [200, 1, 10],
      [200, 850, 7], // the rest of block 200 and block 300, to the query end (1050)
    ],
  );
  t.deepEqual(replies.map((r) => r.syncComplete), [0, 0, 0, 1]);
  t.is(replies[0]!.timestamps!.values[0]!.timestamp2, 0, 'no update from node 2: timestamp 0');
  t.is(replies[0]!.checksums![0]!.checksum2, 0);
});

test('query_short_channel_ids: flags pick announcement, updates and node announcements; each node once', (t) => {
  const picks = [sorted[10]!, sorted[11]!, sorted[12]!, sorted[13]!, scidFromParts(1, 2, 3)];
  const run = (flags?: number[]) =>
    [...shortIdReplies(replica, { type: 'query_short_channel_ids', chainHash: MAINNET, shortChannelIds: { encoding: 0, values: picks }, ...(flags ? { queryFlags: { encoding: 0 as const, values: flags } } : {}) }, true)];
  const kinds = (messages: Uint8Array[]) => messages.slice(0, -1).map((m) => parseGossipItem(m).kind);

  const withFlags = run([1, 2, 4, 6, 31]);
  t.deepEqual(kinds(withFlags), ['channel_announcement', 'channel_update', 'channel_update', 'channel_update', 'channel_update']);
  const u = withFlags.slice(1, 5).map((m) => parseGossipItem(m));
  t.deepEqual(u.map((x) => (x.kind === 'channel_update' ? [x.scid, x.direction] : [])), [[sorted[11]!, 0], [sorted[12]!, 1], [sorted[13]!, 0], [sorted[13]!, 1]]);
  const end = decodeReplyShortChannelIdsEnd(withFlags[withFlags.length - 1]!);
  t.is(end.fullInformation, 1);

  // No flags: announcement, both updates, node announcements (each node at most once).
  const noFlags = run();
  const items = noFlags.slice(0, -1).map((m) => parseGossipItem(m));
  t.is(items.filter((i) => i.kind === 'channel_announcement').length, 4);
  t.is(items.filter((i) => i.kind === 'channel_update').length, 8);
  const nodes = items.flatMap((i) => (i.kind === 'node_announcement' ? [i.nodeId] : []));
  t.is(new Set(nodes).size, nodes.length);
  const expectedNodes = new Set(picks.slice(0, 4).flatMap((s) => [replica.channel(s)!.nodeId1, replica.channel(s)!.nodeId2]).filter((id) => replica.node(id)?.announcement));
  t.deepEqual(new Set(nodes), expectedNodes);
  // node flags only
  const nodeOnly = run([8, 16, 24, 0, 8]);
  t.true(nodeOnly.slice(0, -1).every((m) => parseGossipItem(m).kind === 'node_announcement'));

  const unknown = [...shortIdReplies(replica, { type: 'query_short_channel_ids', chainHash: chainHash('signet'), shortChannelIds: { encoding: 0, values: picks } }, false)];
  t.is(unknown.length, 1);
  t.is(decodeReplyShortChannelIdsEnd(unknown[0]!).fullInformation, 0);
});
