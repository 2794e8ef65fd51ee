// Gossip across the cluster, with real processes: peers on different fronts, the back's routing
// table as the judge, replicas on the fronts answering queries and rebroadcasting.
import test from 'ava';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer, testInit, type TestPeer } from '../helpers/ln-peer.js';
import { syntheticGraph } from '../../src/lightning/gossip/synthetic.js';
import { chainHash } from '../../src/lightning/chains.js';
import { encodeGossipTimestampFilter, encodeQueryChannelRange, encodeReplyChannelRange, encodeReplyShortChannelIdsEnd } from '../../src/lightning/wire/messages.js';
import { peekMessageType } from '../../src/lightning/wire/messages.js';
import { MESSAGE_TYPES } from '../../src/lightning/wire/types.js';

const REBROADCAST_MS = 1500;
const regtest = chainHash('regtest');

async function gossipPeer(cluster: TestCluster, front: number, secret?: Uint8Array): Promise<TestPeer> {
  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(front), secret);
  await peer.handshakeInit(testInit());
  // BOLT 7: nothing is relayed to a gossip_queries peer until it sends a filter.
  peer.send(encodeGossipTimestampFilter({ type: 'gossip_timestamp_filter', chainHash: regtest, firstTimestamp: 0, timestampRange: 0xffffffff }));
  return peer;
}

function gossipOf(peer: TestPeer): Uint8Array[] {
  return peer.received.filter((m) => [MESSAGE_TYPES.channel_announcement, MESSAGE_TYPES.channel_update, MESSAGE_TYPES.node_announcement].includes(peekMessageType(m) as never));
}

async function metric(cluster: TestCluster, name: string): Promise<Map<string, number>> {
  const url = String(cluster.back.ready['metrics']);
  const text = await (await fetch(url)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) if (line.startsWith(name)) values.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
  return values;
}

test.serial('gossip from peers on front A reaches a peer on front B once, never returns to its origins, and each item reached the back once', async (t) => {
  const cluster = await TestCluster.start({ fronts: 2, backArgs: ['--gossip.rebroadcast-interval-ms', String(REBROADCAST_MS)] });
  t.teardown(() => cluster.stop());
  const graph = syntheticGraph({ nodes: 2, channels: 1, timestamp: Math.floor(Date.now() / 1000) - 60, network: 'regtest', seed: 'e2e-gossip' });
  const items = graph.messages; // 1 channel_announcement, 2 channel_updates, 2 node_announcements

  const origins = await Promise.all([0, 1, 2].map(() => gossipPeer(cluster, 0)));
  const listener = await gossipPeer(cluster, 1);
  for (const peer of origins) for (const message of items) peer.send(message);

  await cluster.waitFor('all items at the listener', async () => (gossipOf(listener).length >= items.length ? true : undefined), 20_000, 100);
  t.deepEqual(new Set(gossipOf(listener).map((m) => Buffer.from(m).toString('hex'))), new Set(items.map((m) => Buffer.from(m).toString('hex'))));

  // Two more rebroadcast rounds: nothing goes back to the peers it came from.
  await new Promise((r) => setTimeout(r, REBROADCAST_MS * 2.5));
  for (const peer of origins) t.is(gossipOf(peer).length, 0, 'an origin peer got its own gossip back');
  t.is(gossipOf(listener).length, items.length, 'each item relayed once to the listener');

  const decisions = await metric(cluster, 'lncluster_gossip_decisions_total');
  const total = [...decisions.values()].reduce((a, b) => a + b, 0);
  t.is(total, items.length, `the back judged each item once: ${JSON.stringify([...decisions])}`);
  const info = (await cluster.api('getinfo')) as { gossip: { channels: number; channelUpdates: number; nodes: number } };
  t.like(info.gossip, { channels: 1, channelUpdates: 2 });
});

test.serial('query_channel_range is answered from the replica; the table survives a back restart', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1 });
  t.teardown(() => cluster.stop());
  const graph = syntheticGraph({ nodes: 6, channels: 10, timestamp: Math.floor(Date.now() / 1000) - 60, network: 'regtest', seed: 'e2e-range' });
  const sender = await gossipPeer(cluster, 0);
  for (const message of graph.messages) sender.send(message);
  await cluster.waitFor('table filled', async () => {
    const info = (await cluster.api('getinfo')) as { gossip: { channels: number; channelUpdates: number } };
    return info.gossip.channels === 10 && info.gossip.channelUpdates === 20 ? true : undefined;
  }, 20_000);

  const asker = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await asker.handshakeInit(testInit());
  await cluster.waitFor('replica has the channels', async () => {
    asker.send(encodeQueryChannelRange({ type: 'query_channel_range', chainHash: regtest, firstBlocknum: 0, numberOfBlocks: 0xffffffff, queryOption: 3n }));
    const reply = await asker.next('reply_channel_range', 5_000);
    return reply.type === 'reply_channel_range' && reply.shortChannelIds.values.length === 10 ? reply : undefined;
  }, 20_000, 500).then((reply) => {
    if (reply.type !== 'reply_channel_range') return t.fail();
    t.deepEqual(reply.shortChannelIds.values, graph.channels.map((c) => c.scid));
    t.is(reply.timestamps?.values.length, 10);
    t.is(reply.checksums?.length, 10);
    t.is(reply.syncComplete, 1);
  });

  // Restart the back: the table comes back from SQLite. The store writes every 200 ms: a kill -9 keeps
  // what was written, so wait for the write rather than racing it.
  await cluster.waitFor('table written', async () => {
    const info = (await cluster.api('getinfo')) as { gossip: { unsaved: number } };
    return info.gossip.unsaved === 0 ? true : undefined;
  }, 10_000);
  cluster.back.child.kill('SIGKILL');
  await cluster.back.exited;
  cluster.back = await cluster.spawn(['back', ...cluster.common(), '--back.cluster-listen', cluster.clusterAddress, '--ops.listen', '127.0.0.1:0']);
  const info = (await cluster.api('getinfo')) as { gossip: { channels: number; channelUpdates: number; nodes: number } };
  t.like(info.gossip, { channels: 10, channelUpdates: 20 });
});

test.serial('the node syncs its gossip: gossip_timestamp_filter and query_channel_range to a gossip_queries peer, then query_short_channel_ids for what it lacks', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1 });
  t.teardown(() => cluster.stop());
  const graph = syntheticGraph({ nodes: 4, channels: 3, timestamp: Math.floor(Date.now() / 1000) - 60, network: 'regtest', seed: 'e2e-sync' });
  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await peer.handshakeInit(testInit());
  const filter = await peer.next('gossip_timestamp_filter');
  t.is(filter.type === 'gossip_timestamp_filter' ? Buffer.from(filter.chainHash).toString('hex') : '', Buffer.from(regtest).toString('hex'));
  const query = await peer.next('query_channel_range');
  if (query.type !== 'query_channel_range') return t.fail();
  t.is(query.firstBlocknum, 0);
  t.is(query.numberOfBlocks, 0xffffffff);
  // Answer with our three channels: the node knows none of them, so it asks for all three.
  peer.send(
    encodeReplyChannelRange({
      type: 'reply_channel_range',
      chainHash: regtest,
      firstBlocknum: 0,
      numberOfBlocks: 0xffffffff,
      syncComplete: 1,
      shortChannelIds: { encoding: 0, values: graph.channels.map((c) => c.scid) },
      timestamps: { encoding: 0, values: graph.channels.map(() => ({ timestamp1: 1, timestamp2: 1 })) },
    }),
  );
  const wanted = await peer.next('query_short_channel_ids');
  if (wanted.type !== 'query_short_channel_ids') return t.fail();
  t.deepEqual(wanted.shortChannelIds.values, graph.channels.map((c) => c.scid));
  // Answer the query: the gossip comes in like any other and fills the table.
  for (const message of graph.messages) peer.send(message);
  peer.send(encodeReplyShortChannelIdsEnd({ type: 'reply_short_channel_ids_end', chainHash: regtest, fullInformation: 1 }));
  const info = await cluster.waitFor('table synced', async () => {
    const got = (await cluster.api('getinfo')) as { gossip: { channels: number; sync: { completedPeers: number; channelsRequested: number } } };
    return got.gossip.channels === 3 && got.gossip.sync.completedPeers === 1 ? got : undefined;
  }, 20_000);
  t.is(info.gossip.sync.channelsRequested, 3);
});
