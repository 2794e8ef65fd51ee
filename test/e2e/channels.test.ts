// Channels end to end with real processes: a back running LDK (`back.channel-engine = ldk`) on its
// production bitcoind chain source, pointed at a fake bitcoind the test mines; two fronts; and
// independent LDK nodes (their own PeerManager and sockets, separate processes) as peers, every
// connection through the balancer (fronts trust its PROXY v2 header from 127.0.0.1).
// One cluster for the file: the steps build on each other (open, front loss, back restart, relay).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../helpers/cluster-harness.js';
import { FakeBitcoind } from '../helpers/ldk-fake-bitcoind.js';
import { LdkPeerProcess, type PeerEvent } from '../helpers/ldk-peer-client.js';
import { connectPeer, type TestPeer } from '../helpers/ln-peer.js';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';

interface ChannelView {
  channelId: string;
  peer: string;
  state: string;
  capacitySats: number;
  outboundMsat: number;
  inboundMsat: number;
  fundingTxo: string | null;
  isOutbound: boolean;
  isPublic: boolean;
}
interface PeerChannel {
  channelId: string;
  peer: string;
  usable: boolean;
  ready: boolean;
  forwardingInfo: boolean;
}
interface PeerView {
  nodeId: string;
  front: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

let fake: FakeBitcoind;
let cluster: TestCluster;
let secretsDir: string;
let backArgs: string[];
const peers: LdkPeerProcess[] = [];
const fedHeight = new Map<LdkPeerProcess, number>();
let alice: LdkPeerProcess; // opens a channel to the node
let bob: LdkPeerProcess; // the node opens a channel to him (relay target)
let aliceChannel = '';
let carrier = 0; // index of the front alice's first session landed on (through the balancer)

/** Gives a peer every block it has not seen yet, in order. */
async function feed(peer: LdkPeerProcess): Promise<void> {
  let height = fedHeight.get(peer) ?? 0;
  while (height < fake.chain.height) {
    height++;
    const hash = (await fake.chain.blockHashAt(height))!;
    await peer.request('block', { hex: hex(await fake.chain.block(hash)), height });
  }
  fedHeight.set(peer, height);
}

async function mine(count: number): Promise<void> {
  fake.mine(count);
  for (const peer of peers) await feed(peer);
}

async function spawnPeer(): Promise<LdkPeerProcess> {
  const peer = await LdkPeerProcess.spawn();
  peers.push(peer);
  await feed(peer);
  return peer;
}

const channels = async () => (await cluster.api('channels')) as ChannelView[];
const channelWith = async (peer: string, state: string) => (await channels()).find((c) => c.peer === peer && c.state === state);
const livePeers = async () => (await cluster.api('peers')) as PeerView[];

async function peerChannelUsable(peer: LdkPeerProcess): Promise<PeerChannel | undefined> {
  return (await peer.request<PeerChannel[]>('channels')).find((c) => c.usable);
}

const event = (name: string) => (e: PeerEvent) => e.event === name;

/** The back again on the same addresses (fronts and the balancer's discovery find it where it was). */
async function restartBack(clusterListen: string, opsListen: string) {
  return cluster.spawn(['back', ...cluster.common(), '--back.cluster-listen', clusterListen, '--ops.listen', opsListen, ...backArgs]);
}

/** Waits for an `error` (17) or `warning` (1) from the node. */
async function errorOrWarning(peer: TestPeer, timeoutMs = 10_000): Promise<{ type: number; text: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = peer.received.find((m) => m.length >= 36 && [1, 17].includes((m[0]! << 8) | m[1]!));
    if (found) return { type: (found[0]! << 8) | found[1]!, text: Buffer.from(found.subarray(36)).toString('latin1') };
    if (Date.now() > deadline) throw new Error('no error or warning from the node');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.before(async () => {
  secretsDir = mkdtempSync(join(tmpdir(), 'lncluster-bitcoind-'));
  writeFileSync(join(secretsDir, 'rpc.password'), 'rpc-secret\n', { mode: 0o600 });
  fake = new FakeBitcoind({ user: 'lncluster', password: 'rpc-secret' });
  await fake.start();
  fake.mine(1); // LDK starts from the tip: give it something above genesis
  backArgs = [
    '--back.channel-engine', 'ldk',
    '--bitcoind.rpc-url', fake.url,
    '--bitcoind.rpc-user', 'lncluster',
    '--bitcoind.rpc-password-file', join(secretsDir, 'rpc.password'),
    '--bitcoind.poll-interval-ms', '100',
  ];
  // Fronts drop their peers as soon as the back is lost: LDK needs a fresh session (channel_reestablish)
  // after a back restart; a surviving session re-announced to a new back would get a loose reestablish.
  cluster = await TestCluster.start({ fronts: 2, backArgs, frontArgs: () => ['--front.disconnect-grace-ms', '0', '--front.proxy-trusted', '127.0.0.1'], logLevel: 'info' });
  await cluster.startBalancer();
  await cluster.waitForBalancerFronts('both fronts in the balancer', (fronts) => fronts.length === 2);
  alice = await spawnPeer();
});

test.after.always(async () => {
  await Promise.all(peers.map((p) => p.stop()));
  await cluster?.stop();
  await fake?.stop();
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
});

test.serial('one identity: the node key is LDK\'s, the previous one kept aside', async (t) => {
  const secret = Uint8Array.from(Buffer.from(readFileSync(join(cluster.dataDir, 'node_key'), 'utf8').trim(), 'hex'));
  t.is(hex(defaultCrypto().publicKey(secret)), cluster.nodeId);
  t.is(readFileSync(join(cluster.dataDir, 'ldk', 'node_key'), 'utf8').trim(), hex(secret));
  t.true(existsSync(join(cluster.dataDir, 'node_key.pre-ldk')));
  const info = (await cluster.cli('getinfo')) as Record<string, unknown>;
  t.is(info['channelEngine'], 'ldk');
  t.is(info['nodeId'], cluster.nodeId);
});

test.serial('an LDK peer through the balancer and a front opens a channel: pending on both sides, then ready after confirmations', async (t) => {
  await alice.request('connect', { port: cluster.balancerPort(), nodeId: cluster.nodeId });
  const session = await cluster.waitFor('alice connected', async () => (await livePeers()).find((p) => p.nodeId === alice.nodeId), 20_000);
  carrier = session.front === 'front-1' ? 0 : 1;
  await alice.request('open', { nodeId: cluster.nodeId, sats: 200_000 });
  const pending = await alice.waitEvent(event('ChannelPending'), 30_000);
  aliceChannel = String(pending['channelId']);
  const funding = await alice.waitEvent(event('broadcast'), 30_000);
  const atBack = await cluster.waitFor('channel pending at the back', () => channelWith(alice.nodeId, 'awaiting-confirmation'), 20_000);
  t.is(atBack.channelId, aliceChannel);
  t.is(atBack.capacitySats, 200_000);
  t.truthy(atBack.fundingTxo);
  t.regex(cluster.back.stderr(), /channel engine: channel-pending/);

  fake.addToMempool(Uint8Array.from(Buffer.from(String(funding['tx']), 'hex')));
  await mine(6);
  await alice.waitEvent(event('ChannelReady'), 30_000);
  await cluster.waitFor('channel usable at the back', () => channelWith(alice.nodeId, 'usable'), 30_000);
  const listed = (await cluster.cli('channels')) as ChannelView[];
  const shown = listed.find((c) => c.channelId === aliceChannel);
  t.is(shown?.state, 'usable');
  t.is(shown?.peer, alice.nodeId);
  t.true((shown?.inboundMsat ?? 0) > 0, 'the funder\'s balance is our inbound');
  t.is(shown?.outboundMsat, 0);
  t.is(shown?.isOutbound, false, 'opened by the peer');
  t.is(shown?.isPublic, false);
});

test.serial('SIGKILL the front carrying the peer: disconnect seen, reconnect (balancer) through the other front, reestablish, then a payment', async (t) => {
  cluster.fronts[carrier]!.child.kill('SIGKILL');
  await alice.waitEvent(event('socket-closed'), 10_000);
  await cluster.waitFor('engine saw the disconnect', () => channelWith(alice.nodeId, 'ready'), 10_000);
  t.falsy((await livePeers()).find((p) => p.nodeId === alice.nodeId));

  await cluster.waitForBalancerFronts('the dead front out of the balancer', (fronts) => fronts.length === 1);
  await alice.request('connect', { port: cluster.balancerPort(), nodeId: cluster.nodeId });
  await cluster.waitFor('reestablished at the back', () => channelWith(alice.nodeId, 'usable'), 20_000);
  await cluster.waitFor('reestablished at alice', () => peerChannelUsable(alice), 20_000);
  t.is((await livePeers()).find((p) => p.nodeId === alice.nodeId)?.front, `front-${2 - carrier}`);

  const before = (await channelWith(alice.nodeId, 'usable'))!;
  const { invoice } = (await cluster.cli('invoice', '50000', 'after front loss')) as { invoice: string };
  t.regex(invoice, /^lnbcrt/);
  await alice.request('pay', { invoice });
  await alice.waitEvent(event('PaymentSent'), 30_000);
  // 50 sat is under our channel reserve: it shows as less inbound, not yet as outbound capacity.
  const channel = await cluster.waitFor('payment received', async () => (await channels()).find((c) => c.channelId === aliceChannel && c.inboundMsat <= before.inboundMsat - 50_000), 10_000);
  t.is(channel.state, 'usable');
  await cluster.waitFor('payment logged', async () => (/channel engine: payment-received/.test(cluster.back.stderr()) ? true : undefined), 10_000);
});

test.serial('restart the back (SIGKILL): channels come back from disk and reestablish', async (t) => {
  const clusterListen = cluster.clusterAddress;
  const opsListen = new URL(String(cluster.back.ready['adminUrl'])).host;
  cluster.back.child.kill('SIGKILL');
  await cluster.back.exited;
  await alice.waitEvent(event('socket-closed'), 10_000);
  cluster.back = await restartBack(clusterListen, opsListen);
  const restored = await channels();
  t.is(restored.find((c) => c.channelId === aliceChannel)?.peer, alice.nodeId, 'the channel came back from disk');
  await cluster.waitFor('the front relinked', async () => ((await cluster.api('fronts')) as unknown[]).length >= 1 || undefined, 20_000);
  await cluster.waitForBalancerFronts('the balancer sees it', (fronts) => fronts.length === 1);

  await alice.request('connect', { port: cluster.balancerPort(), nodeId: cluster.nodeId });
  await cluster.waitFor('reestablished after the restart', () => channelWith(alice.nodeId, 'usable'), 20_000).catch((e: unknown) => {
    t.log(cluster.fronts[1 - carrier]!.stderr().split('\n').slice(-15).join('\n'));
    t.log(cluster.back.stderr().split('\n').slice(-15).join('\n'));
    throw e;
  });
  const { invoice } = (await cluster.cli('invoice', '10000')) as { invoice: string };
  await alice.request('pay', { invoice });
  await alice.waitEvent(event('PaymentSent'), 30_000);
  t.pass();
});

test.serial('relay: a payment from one LDK peer to another is forwarded by the node', async (t) => {
  await cluster.startFront(carrier);
  await cluster.waitForBalancerFronts('both fronts in the balancer again', (fronts) => fronts.length === 2);
  bob = await spawnPeer();
  await bob.request('connect', { port: cluster.balancerPort(), nodeId: cluster.nodeId });
  await cluster.waitFor('bob connected', async () => (await livePeers()).find((p) => p.nodeId === bob.nodeId), 20_000);
  const opened = (await cluster.cli('open', bob.nodeId, '150000')) as { temporaryChannelId: string };
  t.regex(opened.temporaryChannelId, /^[0-9a-f]{64}$/);
  await bob.waitEvent(event('ChannelPending'), 30_000);
  await cluster.waitFor('funding broadcast through bitcoind', async () => (fake.chain.mempool.length > 0 ? true : undefined), 20_000);
  t.is(fake.funded.length, 1, 'funded by the bitcoind wallet');
  await mine(6);
  await bob.waitEvent(event('ChannelReady'), 30_000);
  await cluster.waitFor('bob channel usable', () => channelWith(bob.nodeId, 'usable'), 30_000);
  await cluster.waitFor('bob sees it usable', () => peerChannelUsable(bob), 20_000);
  // Bob's invoice hints at the node's side of the channel once he has its (private) channel_update.
  await cluster.waitFor('bob has our channel_update', async () => (await bob.request<PeerChannel[]>('channels')).find((c) => c.forwardingInfo), 20_000);

  const invoice = await bob.request<string>('invoice', { msat: 20_000 });
  await alice.request('pay', { invoice });
  const outcome = await Promise.race([
    alice.waitEvent(event('PaymentSent'), 40_000),
    alice.waitEvent(event('PaymentFailed'), 40_000),
  ]);
  if (outcome.event !== 'PaymentSent') {
    const lines = cluster.back.stderr().split('\n').filter((l) => /HTLC|htlc|orward|ail|oute/.test(l));
    t.log(lines.slice(-80).join('\n'));
  }
  t.is(outcome.event, 'PaymentSent', 'alice -> node -> bob');
  const claimed = await bob.waitEvent(event('PaymentClaimed'), 20_000);
  t.is(String(claimed['amountMsat']), '20000');
  await cluster.waitFor('forward logged', async () => (/channel engine: payment-forwarded/.test(cluster.back.stderr()) ? true : undefined), 10_000);
});

test.serial('malformed BOLT 2 messages through a front: error or warning, the back stays up', async (t) => {
  const raw = await connectPeer(cluster.nodeId, cluster.balancerPort());
  await raw.handshakeInit();
  await cluster.waitFor('raw peer ready', async () => (await livePeers()).find((p) => p.nodeId === raw.nodeId), 10_000);

  // A well-formed update_add_htlc for a channel that does not exist: an error for that channel.
  const add = new Uint8Array(2 + 32 + 8 + 8 + 32 + 4 + 1366);
  add[1] = 128;
  add.fill(0x42, 2, 34);
  raw.send(add);
  const first = await errorOrWarning(raw);
  t.true(first.type === 17 || first.type === 1);
  raw.received.length = 0;

  // A truncated accept_channel: a warning, and the session ends.
  raw.send(new Uint8Array([0, 33, 1, 2, 3, 4, 5]));
  const second = await errorOrWarning(raw);
  t.true(second.type === 1 || second.type === 17, `got type ${second.type}`);
  await raw.closedPromise;

  const info = (await cluster.cli('getinfo')) as Record<string, unknown>;
  t.is(info['nodeId'], cluster.nodeId);
  t.truthy(await channelWith(alice.nodeId, 'usable'), 'other channels unaffected');
  t.is(cluster.back.child.exitCode, null);
});
