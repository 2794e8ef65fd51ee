// The node as an onion service on a private Tor network started by the test (3 authorities, 3 relays, an
// onion-service tor, a client tor; see test/helpers/tor-network.ts), with the default design: the onion
// service's one target is the balancer's local Tor listener, which spreads onion peers over live fronts.
//
// - a BOLT 8 peer dials <node>.onion:9735 through the client's SOCKS port and completes init on a front;
// - that front is killed; the peer dials again and lands on the other;
// - a front dials a peer published as an onion service on the same network (cli connect <id>@<onion>:9735).
// Every wait is on an event (Tor's log, HS_DESC UPLOADED, a ready line) with a deadline; the whole test is
// bounded by t.timeout; every process (8 tors, the cluster) is killed by PID in teardown.
import test from 'ava';
import type { Socket } from 'node:net';
import { TestCluster, type RoleProcess } from '../helpers/cluster-harness.js';
import { listenPeer, TestPeer } from '../helpers/ln-peer.js';
import { startPrivateTorNetwork, findTorGencert, type TorNode } from '../helpers/tor-network.js';
import { freePort, torOrExplain } from '../tor/tor-process.js';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { localStaticKey, noiseConnect } from '../../src/lightning/transport/index.js';
import { SocksDialer } from '../../src/tor/socks-dialer.js';
import { TorControlConnection } from '../../src/tor/control-connection.js';
import { authenticate } from '../../src/tor/auth.js';
import { addOnion } from '../../src/tor/onion-service.js';

const torBin = await torOrExplain(test, 'private Tor network');
const gencert = torBin ? await findTorGencert(torBin) : undefined;
if (torBin && !gencert) {
  if (process.env['CI'] === 'true') test('private Tor network: tor-gencert must be installed in CI', (t) => t.fail('tor-gencert not found'));
  else test.skip('private Tor network: skipped because tor-gencert is not installed', () => undefined);
}

const crypto = defaultCrypto();
const WHOLE_TEST_MS = 290_000;

interface PeerView {
  nodeId: string;
  front: string;
}

interface ConnectView {
  ok: boolean;
  outcome: string;
  message: string;
}

/** A control connection to `node` subscribed to HS_DESC: resolves when a descriptor of `serviceId` is uploaded. */
async function watchDescriptors(node: TorNode): Promise<{ uploaded(serviceId: string, timeoutMs: number): Promise<void>; close(): void }> {
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: node.controlPort });
  await authenticate(conn);
  const uploaded = new Set<string>();
  const waiters = new Set<() => void>();
  conn.on('event', (event) => {
    const [keyword, action, address] = (event.reply.lines[0]?.text ?? '').split(' ');
    if (keyword === 'HS_DESC' && action === 'UPLOADED' && address) {
      uploaded.add(address);
      for (const w of [...waiters]) w();
    }
  });
  await conn.setEvents(['HS_DESC']);
  return {
    uploaded: (serviceId, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const label = serviceId.replace(/\.onion$/, '');
        const check = () => {
          if (!uploaded.has(label)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no HS_DESC UPLOADED for ${label} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => conn.close(),
  };
}

/**
 * Dials nodeId@onion:9735 through the client's SOCKS port, BOLT 8 handshake and init. Retries (each attempt
 * bounded) until `deadline`: right after publication the client may still lack the descriptor, and Tor
 * reports a target that went away as a closed stream.
 */
async function connectOverTor(nodeId: string, onion: string, socksPort: number, deadline: number, failures: string[]): Promise<TestPeer> {
  const dialer = new SocksDialer({ proxy: { host: '127.0.0.1', port: socksPort }, connectTimeoutMs: 45_000, isolateStreams: true });
  for (;;) {
    const secret = crypto.randomSecretKey();
    let socket: Socket | undefined;
    try {
      const dialed = await dialer.dial(onion, 9735);
      if (!dialed.ok) throw new Error(`${dialed.failure}: ${dialed.message}`);
      socket = dialed.socket;
      socket.on('error', () => undefined);
      const connection = await noiseConnect(socket, { staticKey: localStaticKey(secret, crypto), remoteNodeId: Uint8Array.from(Buffer.from(nodeId, 'hex')), timeoutMs: 30_000 });
      const peer = new TestPeer(
        {
          send: (m) => void connection.send(m),
          close: () => connection.close(),
          onMessage: (l) => connection.on('message', l),
          onClose: (l) => connection.on('close', () => l()),
        },
        secret,
      );
      await peer.handshakeInit();
      return peer;
    } catch (error) {
      socket?.destroy();
      failures.push((error as Error).message);
      if (Date.now() > deadline) throw new Error(`no init over Tor before the deadline; attempts failed with:\n${failures.join('\n')}`);
      // Paced retries: Tor needs the descriptor or a new circuit, which no local event announces.
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function frontOf(cluster: TestCluster, nodeId: string): Promise<string> {
  return cluster.waitFor('the peer listed by the back', async () => ((await cluster.cli('peers')) as PeerView[]).find((p) => p.nodeId === nodeId)?.front, 20_000, 200);
}

if (torBin && gencert) {
  test('private Tor network: onion peers reach live fronts through the balancer; a front dials an onion peer', async (t) => {
    t.timeout(WHOLE_TEST_MS, 'the whole private-network test is bounded');
    const startedAt = Date.now();
    // The network bootstraps (the slow part) while the cluster starts: the fronts only need the SOCKS port number.
    const socksPort = await freePort();
    const [networkStart, clusterStart] = await Promise.allSettled([
      startPrivateTorNetwork(torBin, { bootstrapTimeoutMs: 150_000, clientSocksPort: socksPort }),
      TestCluster.start({
        fronts: 2,
        logLevel: 'info',
        frontArgs: () => ['--front.proxy-trusted', '127.0.0.1', '--front.tor-socks', `127.0.0.1:${socksPort}`],
      }),
    ]);
    if (networkStart.status === 'fulfilled') t.teardown(() => networkStart.value.stop());
    if (clusterStart.status === 'fulfilled') t.teardown(() => clusterStart.value.stop());
    if (networkStart.status === 'rejected') throw networkStart.reason;
    if (clusterStart.status === 'rejected') throw clusterStart.reason;
    const network = networkStart.value;
    const cluster = clusterStart.value;
    t.log(`private Tor network bootstrapped and cluster started in ${Math.round((Date.now() - startedAt) / 1000)} s`);
    t.teardown(() => {
      if (!t.passed) t.log(network.describe(20));
    });

    const balancer = await cluster.startBalancer(['--balancer.tor-listen', '127.0.0.1:0']);
    const torListen = String(balancer.ready['tor']);
    t.regex(torListen, /^127\.0\.0\.1:\d+$/, 'the balancer opened its Tor listener');
    await cluster.waitForBalancerFronts('both fronts in the balancer', (fronts) => fronts.filter((f) => f.state !== 'down' && f.state !== 'draining').length === 2);

    const descriptors = await watchDescriptors(network.onionService);
    t.teardown(() => descriptors.close());
    const torRole: RoleProcess = await cluster.spawn([
      'tor', ...cluster.common(),
      '--tor.control', `127.0.0.1:${network.onionService.controlPort}`,
      '--balancer.tor-listen', torListen,
      '--ops.listen', '127.0.0.1:0',
    ]);
    const onion = String(torRole.ready['onionAddress']);
    t.deepEqual(torRole.ready['targets'], [torListen], 'the onion service points at the balancer, not at fronts');
    t.is(((await cluster.cli('getinfo')) as { onionAddress?: string }).onionAddress, onion);

    // 0. The remote peer's onion service, published now so its descriptor upload overlaps steps 1 and 2.
    const remote = await listenPeer();
    t.teardown(() => remote.close());
    const control = await TorControlConnection.connect({ host: '127.0.0.1', port: network.onionService.controlPort });
    t.teardown(() => control.close());
    await authenticate(control);
    const remoteService = await addOnion(control, { key: 'new', ports: [{ virtualPort: 9735, target: `127.0.0.1:${remote.port}` }] });
    await descriptors.uploaded(onion, 90_000);
    t.log(`descriptor of ${onion} uploaded after ${Math.round((Date.now() - startedAt) / 1000)} s`);

    // 1. A peer over Tor completes init on a front.
    const failures: string[] = [];
    const first = await connectOverTor(cluster.nodeId, onion, socksPort, Date.now() + 90_000, failures);
    t.is(first.theirInit?.type, 'init');
    const firstFront = await frontOf(cluster, first.nodeId);
    t.log(`first peer on ${firstFront} after ${failures.length} failed attempt(s)`);

    // 2. Kill that front: the next onion peer lands on the other.
    const index = cluster.fronts.findIndex((f) => f.ready['id'] === firstFront);
    t.true(index >= 0);
    const victim = cluster.fronts[index]!;
    process.kill(victim.child.pid!, 'SIGKILL');
    await victim.exited;
    await first.closedPromise;
    const second = await connectOverTor(cluster.nodeId, onion, socksPort, Date.now() + 90_000, failures);
    const secondFront = await frontOf(cluster, second.nodeId);
    t.not(secondFront, firstFront, 'the second onion peer is on the surviving front');
    second.close();

    // 3. A front dials a peer published as an onion service on the same network (published in step 0).
    await descriptors.uploaded(remoteService.onionAddress, 90_000);
    const dialDeadline = Date.now() + 90_000;
    let result: ConnectView;
    for (;;) {
      result = (await cluster.cli('connect', `${remote.nodeId}@${remoteService.onionAddress}:9735`)) as ConnectView;
      if (result.ok || Date.now() > dialDeadline) break;
      failures.push(`cli connect: ${result.outcome}: ${result.message}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    t.true(result.ok, `${result.outcome}: ${result.message}\n${failures.join('\n')}`);
    const accepted = await remote.accepted();
    t.false(accepted.closed);
    const outbound = await frontOf(cluster, remote.nodeId);
    t.is(outbound, secondFront, 'dialed by the surviving front');
    t.log(`whole test ${Math.round((Date.now() - startedAt) / 1000)} s; retried attempts: ${failures.length}`);
  });
}
