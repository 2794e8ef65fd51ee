// The balancer end to end with the embedded registry: back, fronts and `lncluster balancer` as
// separate OS processes on 127.0.0.1, peers doing the BOLT 8 handshake and init through it.
import test from 'ava';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer, type TestPeer } from '../helpers/ln-peer.js';
import { encodeProxyV2 } from '../../src/balancer/proxy-v2.js';

interface PeerView {
  nodeId: string;
  front: string;
  address: string;
}

/** Fronts behind the balancer trust its PROXY header (from 127.0.0.1) and take many handshakes from one source. */
const FRONT_ARGS = ['--front.proxy-trusted', '127.0.0.1', '--front.max-handshakes-per-ip', '256'];
const BACK_ARGS = ['--back.max-unfunded-inbound-peers', '1000'];
const GENEROUS_LIMITS = ['--balancer.max-connections-per-ip', '1000', '--balancer.max-new-per-ip-per-second', '1000'];

async function peersByNode(cluster: TestCluster): Promise<Map<string, PeerView>> {
  return new Map(((await cluster.api('peers')) as PeerView[]).map((p) => [p.nodeId, p]));
}

async function connectAll(cluster: TestCluster, count: number, localAddress?: string, batch = 10): Promise<TestPeer[]> {
  const peers: TestPeer[] = [];
  for (let i = 0; i < count; i += batch) {
    const group = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async () => {
        const peer = await connectPeer(cluster.nodeId, cluster.balancerPort(), undefined, '127.0.0.1', localAddress);
        await peer.handshakeInit();
        return peer;
      }),
    );
    peers.push(...group);
  }
  return peers;
}

async function waitListed(cluster: TestCluster, peers: readonly TestPeer[]): Promise<Map<string, PeerView>> {
  return cluster.waitFor(
    `${peers.length} peers listed by the back`,
    async () => {
      const listed = await peersByNode(cluster);
      return peers.every((p) => listed.has(p.nodeId)) ? listed : undefined;
    },
    30_000,
    250,
  );
}

async function closeAll(peers: readonly TestPeer[]): Promise<void> {
  for (const peer of peers) peer.close();
  await Promise.all(peers.map((p) => p.closedPromise));
}

// ---- three fronts: spread, long-lived load, SIGKILL -----------------------------------------------

let three: Promise<TestCluster> | undefined;
function threeFronts(): Promise<TestCluster> {
  three ??= (async () => {
    const cluster = await TestCluster.start({ fronts: 3, frontArgs: () => FRONT_ARGS, backArgs: BACK_ARGS, logLevel: 'info' });
    await cluster.startBalancer(GENEROUS_LIMITS);
    await cluster.waitForBalancerFronts('3 fronts in the balancer', (f) => f.length === 3);
    return cluster;
  })();
  return three;
}
test.after.always(async () => {
  if (three) await (await three.catch(() => undefined))?.stop();
});

test.serial('200 peers through the balancer spread over 3 fronts within 20% of even; a loaded front gets no new ones', async (t) => {
  const cluster = await threeFronts();
  const ready = cluster.balancer!.ready;
  t.is(ready['role'], 'balancer');
  t.regex(String(ready['metrics']), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  const peers = await connectAll(cluster, 200);
  const listed = await waitListed(cluster, peers);
  const perFront = new Map<string, TestPeer[]>();
  for (const peer of peers) {
    const front = listed.get(peer.nodeId)!.front;
    perFront.set(front, [...(perFront.get(front) ?? []), peer]);
  }
  const counts = Object.fromEntries([...perFront].map(([front, list]) => [front, list.length]));
  t.deepEqual(Object.keys(counts).sort(), ['front-1', 'front-2', 'front-3']);
  for (const [front, count] of Object.entries(counts)) {
    t.true(count >= (200 / 3) * 0.8 && count <= (200 / 3) * 1.2, `${front} carries ${count} of 200 (${JSON.stringify(counts)})`);
  }
  const metrics = await (await fetch(String(ready['metrics']))).text();
  t.regex(metrics, /lncluster_balancer_backend_connections\{backend="front-1"\} \d+/);
  t.regex(metrics, /lncluster_balancer_backend_chosen_total\{backend="front-2"\} \d+/);
  // npm ci builds the native relay; the default data path (auto) must have found it.
  t.regex(metrics, /lncluster_balancer_data_path\{path="native"\} 1/);

  // front-1 keeps its peers (long-lived); everyone else leaves. New short-lived peers then go to the others.
  const longLived = perFront.get('front-1')!;
  await closeAll(peers.filter((p) => !longLived.includes(p)));
  await cluster.waitFor(
    'the balancer to count only front-1 connections',
    async () => {
      const backends = (await cluster.balancerHealth()).backends;
      return backends.every((b) => (b.id === 'front-1' ? b.activeConnections === longLived.length : b.activeConnections === 0)) ? true : undefined;
    },
    20_000,
    250,
  );
  for (let i = 0; i < 10; i++) {
    const [peer] = await connectAll(cluster, 1);
    const view = (await waitListed(cluster, [peer!])).get(peer!.nodeId)!;
    t.not(view.front, 'front-1', `short-lived peer ${i} avoided the loaded front`);
    await closeAll([peer!]);
  }
  await closeAll(longLived);
});

test.serial('SIGKILL a front while peers connect in a loop: nothing refused once the balancer knows, new peers on survivors', async (t) => {
  const cluster = await threeFronts();
  const outcomes: Array<{ startedAt: number; ok: boolean; error?: string }> = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const startedAt = Date.now();
      try {
        const peer = await connectPeer(cluster.nodeId, cluster.balancerPort());
        await peer.handshakeInit(undefined);
        peer.close();
        outcomes.push({ startedAt, ok: true });
      } catch (error) {
        outcomes.push({ startedAt, ok: false, error: (error as Error).message });
      }
    }
  })();
  await cluster.waitFor('a few connections before the kill', async () => (outcomes.length >= 5 ? true : undefined), 30_000);
  cluster.fronts[0]!.child.kill('SIGKILL');
  await cluster.waitForBalancerFronts('front-1 gone from the balancer', (f) => !f.some((x) => x.id === 'front-1'));
  const learnedAt = Date.now();
  await cluster.waitFor('15 connections after the balancer learned', async () => (outcomes.filter((o) => o.startedAt > learnedAt).length >= 15 ? true : undefined), 60_000, 200);
  stop = true;
  await loop;
  const after = outcomes.filter((o) => o.startedAt > learnedAt);
  t.deepEqual(after.filter((o) => !o.ok), [], 'no connection failed after the balancer learned of the kill');
  t.log(`${outcomes.length} connections, ${outcomes.filter((o) => !o.ok).length} failed before the balancer learned`);

  const fresh = await connectAll(cluster, 6, undefined, 3);
  const listed = await waitListed(cluster, fresh);
  t.true(fresh.every((p) => ['front-2', 'front-3'].includes(listed.get(p.nodeId)!.front)));
  await closeAll(fresh);
});

// ---- two fronts: real addresses, untrusted headers, source limits and reload, drain -----------------

let two: Promise<{ cluster: TestCluster; configFile: string }> | undefined;
function twoFronts(): Promise<{ cluster: TestCluster; configFile: string }> {
  two ??= (async () => {
    const cluster = await TestCluster.start({ fronts: 2, frontArgs: () => FRONT_ARGS, backArgs: BACK_ARGS, logLevel: 'info' });
    // Limits from a file, so that a SIGHUP reload can change them.
    const configFile = join(cluster.dataDir, 'balancer.conf');
    writeFileSync(configFile, 'balancer.max-connections-per-ip = 3\nbalancer.max-new-per-ip-per-second = 100\n');
    await cluster.startBalancer(['--config', configFile, '--balancer.tor-listen', '127.0.0.1:0']);
    await cluster.waitForBalancerFronts('2 fronts in the balancer', (f) => f.length === 2);
    return { cluster, configFile };
  })();
  return two;
}
test.after.always(async () => {
  if (two) await (await two.catch(() => undefined))?.cluster.stop();
});

test.serial('the front sees the real client address (PROXY v2); a PROXY header from an untrusted source is rejected', async (t) => {
  const { cluster } = await twoFronts();
  const [peer] = await connectAll(cluster, 1, '127.0.0.2');
  const view = (await waitListed(cluster, [peer!])).get(peer!.nodeId)!;
  t.regex(view.address, /^127\.0\.0\.2:\d+$/, `the back lists ${view.address}`);
  await closeAll([peer!]);

  // The Tor listener (the onion service target) leads to the same fronts; per-source limits do not apply there.
  const tor = String(cluster.balancer!.ready['tor']);
  t.regex(tor, /^127\.0\.0\.1:\d+$/);
  const viaTor = await Promise.all([1, 2, 3, 4].map(() => connectPeer(cluster.nodeId, Number(tor.split(':')[1]))));
  for (const p of viaTor) t.is((await p.handshakeInit()).type, 'init');
  await closeAll(viaTor);

  // 127.0.0.2 is not trusted by the fronts: a header from there is a spoofing attempt and is cut.
  const spoof = tcpConnect({ host: '127.0.0.1', port: cluster.frontPort(0), localAddress: '127.0.0.2' });
  spoof.on('error', () => undefined);
  await once(spoof, 'connect');
  spoof.write(encodeProxyV2({ command: 'proxy', address: { family: 'tcp4', sourceAddress: '1.2.3.4', sourcePort: 1234, destinationAddress: '127.0.0.1', destinationPort: 9735 } }));
  let received = 0;
  spoof.on('data', (d: Buffer) => (received += d.length));
  await once(spoof, 'close');
  t.is(received, 0, 'the front closed the connection without answering');
  // A trusted source that skips the header is cut too (the front demands one from the balancer's address).
  await t.throwsAsync(connectPeer(cluster.nodeId, cluster.frontPort(0)));
});

test.serial('source-IP limits refuse the excess and nothing else; SIGHUP reload raises them without dropping connections', async (t) => {
  const { cluster, configFile } = await twoFronts();
  const held = await connectAll(cluster, 3, '127.0.0.3');
  await t.throwsAsync(connectPeer(cluster.nodeId, cluster.balancerPort(), undefined, '127.0.0.1', '127.0.0.3'), undefined, 'a 4th connection from 127.0.0.3 is refused');
  const other = await connectAll(cluster, 1, '127.0.0.4');
  t.is(other.length, 1, 'another source is unaffected');
  for (const peer of held) {
    peer.send(new Uint8Array([0, 18, 0, 4, 0, 0]));
    const pong = await peer.next('pong');
    t.is(pong.type, 'pong', 'held connections still work');
  }
  const metrics = await (await fetch(String(cluster.balancer!.ready['metrics']))).text();
  t.regex(metrics, /lncluster_balancer_refused_total\{reason="source-connections"\} 1\b/);
  t.regex(metrics, /lncluster_balancer_refused_total\{reason="source-rate"\} 0\b/);

  writeFileSync(configFile, 'balancer.max-connections-per-ip = 4\nbalancer.max-new-per-ip-per-second = 100\n');
  cluster.balancer!.child.kill('SIGHUP');
  await cluster.waitFor('reload logged', async () => (/configuration reloaded/.test(cluster.balancer!.stderr()) ? true : undefined), 10_000);
  const fourth = await connectAll(cluster, 1, '127.0.0.3');
  for (const peer of held) {
    peer.send(new Uint8Array([0, 18, 0, 2, 0, 0]));
    await peer.next('pong');
  }
  t.pass('after the reload a 4th connection is admitted and the first three survived');
  await closeAll([...held, ...other, ...fourth]);
});

test.serial('drain a front: no new peers go to it, its existing peers keep working', async (t) => {
  const { cluster } = await twoFronts();
  const first = await connectAll(cluster, 2, '127.0.0.5', 1);
  const listed = await waitListed(cluster, first);
  const onFront1 = first.find((p) => listed.get(p.nodeId)!.front === 'front-1');
  t.truthy(onFront1, 'least connections put one of two peers on each front');

  await cluster.cli('drain', 'front-1');
  await cluster.waitForBalancerFronts('front-1 draining in the balancer', (f) => f.some((x) => x.id === 'front-1' && x.state === 'draining'));
  const later = [...(await connectAll(cluster, 3, '127.0.0.6', 1)), ...(await connectAll(cluster, 3, '127.0.0.7', 1))];
  const after = await waitListed(cluster, later);
  t.deepEqual(later.map((p) => after.get(p.nodeId)!.front), Array(6).fill('front-2'));

  onFront1!.send(new Uint8Array([0, 18, 0, 3, 0, 0]));
  const pong = await onFront1!.next('pong');
  t.is(pong.type === 'pong' ? pong.ignored.length : -1, 3, 'the peer on the drained front still gets its pong');
  t.false(onFront1!.closed);
  await closeAll([...first, ...later]);
  await cluster.cli('undrain', 'front-1');
});
