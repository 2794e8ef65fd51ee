// `lncluster balancer --balancer.engine haproxy` end to end: HAProxy as the data plane, its servers
// kept in step with the embedded registry through the runtime API.
import test from 'ava';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { findHaproxyBinary } from '../../src/balancer/haproxy.js';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer, type TestPeer } from '../helpers/ln-peer.js';

interface PeerView {
  nodeId: string;
  front: string;
  address: string;
}

const binary = await findHaproxyBinary();
if (!binary) {
  if (process.env.CI === 'true') test('haproxy is installed (required in CI)', (t) => t.fail('haproxy not found: CI must install the haproxy package'));
  else console.warn('haproxy is not installed: the HAProxy engine end-to-end test is skipped (apt-get install haproxy)');
}
const haproxyTest = binary ? test.serial : test.skip;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

haproxyTest('HAProxy engine: real client address, one front drained, one killed, peers still connect', async (t) => {
  const cluster = await TestCluster.start({ fronts: 3, logLevel: 'info', frontArgs: () => ['--front.proxy-trusted', '127.0.0.1'] });
  t.teardown(() => cluster.stop());
  t.teardown(() => {
    if (!t.passed) t.log(cluster.balancer?.stderr().slice(-4000));
  });
  const port = await freePort();
  await cluster.startBalancer(['--balancer.engine', 'haproxy', '--balancer.listen', `127.0.0.1:${port}`]);
  t.is(cluster.balancer!.ready['engine'], 'haproxy');
  t.is(cluster.balancerPort(), port);
  await cluster.waitFor('HAProxy serving 3 ready fronts', async () => {
    const backends = (await cluster.balancerHealth()).backends;
    return backends.length === 3 && backends.every((b) => b.state === 'ready') ? true : undefined;
  }, 30_000, 200);

  const peersOn = async (peers: readonly TestPeer[]) =>
    cluster.waitFor(`${peers.length} peers listed`, async () => {
      const listed = new Map(((await cluster.api('peers')) as PeerView[]).map((p) => [p.nodeId, p]));
      return peers.every((p) => listed.has(p.nodeId)) ? peers.map((p) => listed.get(p.nodeId)!) : undefined;
    }, 20_000, 200);
  const connectOne = async (localAddress?: string) => {
    const peer = await connectPeer(cluster.nodeId, port, undefined, '127.0.0.1', localAddress);
    await peer.handshakeInit();
    return peer;
  };

  const first: TestPeer[] = [];
  for (let i = 0; i < 3; i++) first.push(await connectOne('127.0.0.2'));
  const views = await peersOn(first);
  t.deepEqual(views.map((v) => v.front).sort(), ['front-1', 'front-2', 'front-3'], 'leastconn: one peer per front');
  t.true(views.every((v) => /^127\.0\.0\.2:\d+$/.test(v.address)), 'fronts see the real client address (send-proxy-v2)');
  const onFront1 = first[views.findIndex((v) => v.front === 'front-1')]!;

  await cluster.cli('drain', 'front-1');
  await cluster.waitFor('front-1 draining in HAProxy', async () => ((await cluster.balancerHealth()).backends.find((b) => b.id === 'front-1')?.state === 'draining' ? true : undefined), 20_000, 200);
  cluster.fronts[2]!.child.kill('SIGKILL');
  // Once it is gone its port refuses, and HAProxy redispatches (a connection the dying process had
  // already accepted is lost with it, whatever the balancer).
  await cluster.fronts[2]!.exited;

  // Straight after the kill (before discovery notices) and after: every peer connects, to front-2.
  const later: TestPeer[] = [];
  for (let i = 0; i < 6; i++) later.push(await connectOne());
  t.deepEqual((await peersOn(later)).map((v) => v.front), Array(6).fill('front-2'));

  onFront1.send(new Uint8Array([0, 18, 0, 1, 0, 0]));
  t.is((await onFront1.next('pong')).type, 'pong', 'the drained front still serves its peer');
  for (const peer of [...first, ...later]) peer.close();
});
