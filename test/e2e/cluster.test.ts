// The cluster end to end: a back and fronts as separate OS processes on 127.0.0.1, peers over real
// TCP, one of them the independent @node-lightning/noise implementation.
import test from 'ava';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectNodeLightningPeer, connectPeer, listenPeer, testInit } from '../helpers/ln-peer.js';
import { chainHash } from '../../src/lightning/chains.js';
import { MESSAGE_TYPES } from '../../src/lightning/wire/types.js';

interface PeerView {
  nodeId: string;
  front: string;
  address: string;
  direction: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function openChannelBytes(temporaryChannelId: Uint8Array): Uint8Array {
  // open_channel: type 32, chain_hash, temporary_channel_id, then the rest (content irrelevant here).
  const message = new Uint8Array(2 + 32 + 32 + 200);
  message[1] = MESSAGE_TYPES.open_channel;
  message.set(chainHash('regtest'), 2);
  message.set(temporaryChannelId, 34);
  return message;
}

test.serial('a @node-lightning/noise peer: handshake, init, ping/pong, open_channel answered by the back', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1 });
  t.teardown(() => cluster.stop());
  const peer = await connectNodeLightningPeer(cluster.nodeId, cluster.frontPort(0));
  const theirInit = await peer.handshakeInit();
  t.is(theirInit.type, 'init');
  if (theirInit.type !== 'init') return;
  t.deepEqual(theirInit.networks?.map(hex), [hex(chainHash('regtest'))], 'init carries our chain in networks');
  t.true(theirInit.remoteAddr !== undefined, 'init carries remote_addr');

  // ping -> pong with the requested length
  const ping = new Uint8Array([0, 18, 0, 7, 0, 0]);
  peer.send(ping);
  const pong = await peer.next('pong');
  t.is(pong.type === 'pong' ? pong.ignored.length : -1, 7);

  const peers = await cluster.waitFor('peer listed', async () => {
    const list = (await cluster.cli('peers')) as PeerView[];
    return list.find((p) => p.nodeId === peer.nodeId);
  });
  t.is(peers.front, 'front-1');
  t.regex(peers.address, /^127\.0\.0\.1:\d+$/);

  const temporaryChannelId = new Uint8Array(32).fill(0xab);
  peer.send(openChannelBytes(temporaryChannelId));
  const error = await peer.next('error');
  if (error.type !== 'error') return t.fail();
  t.is(hex(error.channelId), hex(temporaryChannelId));
  t.regex(Buffer.from(error.data).toString(), /does not accept channels/);
  t.regex(cluster.back.stderr(), new RegExp(`"peer":"${peer.nodeId}"`), 'the back logged the peer by node id');
  peer.close();
});

test.serial('a peer whose networks exclude our chain gets an error and is disconnected', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1 });
  t.teardown(() => cluster.stop());
  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  peer.send(testInit([chainHash('bitcoin')]));
  const error = await peer.next('error');
  t.regex(error.type === 'error' ? Buffer.from(error.data).toString() : '', /no common chain/);
  await peer.closedPromise;
  t.true(peer.closed);
});

test.serial('SIGKILL a front: its peer is marked down within 3 s and reconnects through the other front', async (t) => {
  const cluster = await TestCluster.start({ fronts: 2 });
  t.teardown(() => cluster.stop());
  const first = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await first.handshakeInit();
  await cluster.waitFor('peer on front-1', async () => ((await cluster.cli('peers')) as PeerView[]).find((p) => p.nodeId === first.nodeId && p.front === 'front-1'));

  const killedAt = Date.now();
  cluster.fronts[0]!.child.kill('SIGKILL');
  await cluster.waitFor('peer marked down', async () => (((await cluster.api('peers')) as PeerView[]).some((p) => p.nodeId === first.nodeId) ? undefined : true), 5_000, 50);
  const detection = Date.now() - killedAt;
  t.true(detection < 3_000, `peer marked down after ${detection} ms`);

  const again = await connectPeer(cluster.nodeId, cluster.frontPort(1), first.secret);
  await again.handshakeInit();
  const view = await cluster.waitFor('peer on front-2', async () => ((await cluster.cli('peers')) as PeerView[]).find((p) => p.nodeId === first.nodeId));
  t.is(view.front, 'front-2');
  const fronts = (await cluster.cli('fronts')) as Array<{ id: string }>;
  t.deepEqual(fronts.map((f) => f.id), ['front-2']);
});

test.serial('cli connect: least-loaded front dials; a front whose dials fail is retried on the other; no front is a clear error', async (t) => {
  // front-1 dials from 127.0.0.2, which the remote refuses: its dials fail.
  const cluster = await TestCluster.start({ fronts: 2, frontArgs: (i) => (i === 0 ? ['--front.dial-source-address', '127.0.0.2'] : []) });
  t.teardown(() => cluster.stop());
  const remote = await listenPeer({ refuseFrom: '127.0.0.2' });
  t.teardown(() => remote.close());

  // Load front-2 with one peer so that front-1 is the least loaded.
  const filler = await connectPeer(cluster.nodeId, cluster.frontPort(1));
  await filler.handshakeInit();
  await cluster.waitFor('filler listed', async () => ((await cluster.cli('peers')) as PeerView[]).find((p) => p.nodeId === filler.nodeId));

  const result = (await cluster.cli('connect', `${remote.nodeId}@127.0.0.1:${remote.port}`)) as { ok: boolean; attempts: Array<{ frontId: string; outcome: string }> };
  t.true(result.ok);
  t.deepEqual(result.attempts.map((a) => a.frontId), ['front-1', 'front-2'], 'least-loaded first, then the other');
  t.not(result.attempts[0]!.outcome, 'connected');
  const peers = (await cluster.cli('peers')) as PeerView[];
  t.like(peers.find((p) => p.nodeId === remote.nodeId), { front: 'front-2', direction: 'outbound' });

  // A second remote that accepts everyone: the least-loaded front (front-1, no live peers) dials it.
  const open = await listenPeer();
  t.teardown(() => open.close());
  const direct = (await cluster.cli('connect', `${open.nodeId}@127.0.0.1:${open.port}`)) as { ok: boolean; attempts: Array<{ frontId: string }> };
  t.true(direct.ok);
  t.deepEqual(direct.attempts.map((a) => a.frontId), ['front-1']);

  for (const front of cluster.fronts) front.child.kill('SIGKILL');
  await cluster.waitFor('no fronts', async () => (((await cluster.cli('fronts')) as unknown[]).length === 0 ? true : undefined));
  const failed = await cluster.cliRaw('connect', `${remote.nodeId}@127.0.0.1:${remote.port}`);
  t.not(failed.code, 0);
  t.regex(failed.stderr, /no front available/);
});

test.serial('keyless fronts: no node key anywhere in the front, handshakes both ways succeed', async (t) => {
  const cluster = await TestCluster.start({ fronts: 0 });
  t.teardown(() => cluster.stop());
  // The front's data dir is the shared one, but point its key file at nothing and strip the environment:
  // a delegated front must never read a key.
  const env = { ...process.env };
  delete env['LNCLUSTER_NODE_KEY'];
  const front = await cluster.startFront(0, ['--front.node-key', 'delegated', '--node-key.file', '/nonexistent/node_key'], env);
  t.is(front.ready['role'], 'front');
  const inbound = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  const init = await inbound.handshakeInit();
  t.is(init.type, 'init');
  const remote = await listenPeer();
  t.teardown(() => remote.close());
  const result = (await cluster.cli('connect', `${remote.nodeId}@127.0.0.1:${remote.port}`)) as { ok: boolean };
  t.true(result.ok);
  const peers = (await cluster.cli('peers')) as PeerView[];
  t.deepEqual(peers.map((p) => p.direction).sort(), ['inbound', 'outbound']);
});

test.serial('the cluster port rejects a client without the cluster certificate, and garbage, without harm', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1 });
  t.teardown(() => cluster.stop());
  const [host, port] = [cluster.clusterAddress.split(':')[0]!, Number(cluster.clusterAddress.split(':')[1])];
  const tls = tlsConnect({ host, port, rejectUnauthorized: false });
  tls.on('error', () => {});
  await new Promise((resolve) => tls.on('close', resolve));
  t.pass('TLS client without a certificate was closed');
  const raw = tcpConnect({ host, port });
  raw.on('error', () => {});
  raw.write(Buffer.alloc(4096, 0x42));
  await new Promise((resolve) => raw.on('close', resolve));
  const info = (await cluster.cli('getinfo')) as { fronts: number; nodeId: string };
  t.is(info.fronts, 1, 'the linked front is unaffected');
  t.is(info.nodeId, cluster.nodeId);
});

test.serial('inbound peers without channels are capped; the oldest is evicted first', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, backArgs: ['--back.max-unfunded-inbound-peers', '2'] });
  t.teardown(() => cluster.stop());
  const peers = [];
  for (let i = 0; i < 3; i++) {
    const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
    await peer.handshakeInit();
    await cluster.waitFor(`peer ${i} listed`, async () => ((await cluster.api('peers')) as PeerView[]).find((p) => p.nodeId === peer.nodeId));
    peers.push(peer);
  }
  await peers[0]!.closedPromise;
  t.true(peers[0]!.closed, 'the oldest peer was disconnected');
  const listed = ((await cluster.api('peers')) as PeerView[]).map((p) => p.nodeId).sort();
  t.deepEqual(listed, [peers[1]!.nodeId, peers[2]!.nodeId].sort());
  t.false(peers[2]!.closed);
});

test.serial('a front that loses its back stops accepting, disconnects its peers after the grace period, and recovers', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, frontArgs: () => ['--front.disconnect-grace-ms', '1500'] });
  t.teardown(() => cluster.stop());
  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await peer.handshakeInit();
  const health = String(cluster.fronts[0]!.ready['health']).replace('/health', '/ready');

  cluster.back.child.kill('SIGKILL');
  await cluster.back.exited;
  await cluster.waitFor('front not ready', async () => ((await fetch(health)).status === 503 ? true : undefined));
  await t.throwsAsync(connectPeer(cluster.nodeId, cluster.frontPort(0)), undefined, 'no new peer while the back is away');
  t.false(peer.closed, 'existing peers stay during the grace period');
  await peer.closedPromise;
  t.pass('peer disconnected after the grace period');

  cluster.back = await cluster.spawn(['back', ...cluster.common(), '--back.cluster-listen', cluster.clusterAddress, '--ops.listen', '127.0.0.1:0']);
  await cluster.waitFor('front linked again', async () => ((await fetch(health)).status === 200 ? true : undefined), 20_000);
  const again = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await again.handshakeInit();
  await cluster.waitFor('peer listed again', async () => ((await cluster.api('peers')) as PeerView[]).find((p) => p.nodeId === again.nodeId));
});

test.serial('liveness: a silent peer is pinged and, without a pong in time, disconnected; a peer that answers stays', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, backArgs: ['--peer.ping-interval-ms', '400', '--peer.pong-timeout-ms', '800'] });
  t.teardown(() => cluster.stop());
  const mute = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  mute.answerPings = false;
  await mute.handshakeInit();
  const polite = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await polite.handshakeInit();
  await mute.next('ping', 5_000);
  await mute.closedPromise;
  t.pass('the peer that owed a pong was disconnected');
  await new Promise((r) => setTimeout(r, 2_000));
  t.false(polite.closed, 'the peer answering pings is still connected');
});
