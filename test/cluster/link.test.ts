import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import {
  ClusterClient,
  ClusterProtocolError,
  type ClusterProtocolErrorCode,
  createClusterTlsServer,
  encodeFrame,
  ClusterLink,
  type ClusterConnectionRejected,
  type ClusterCredentials,
  type ClusterLinkClosed,
  type ClusterLinkOptions,
  type ClusterServer,
} from '../../src/cluster/index.js';
import {
  collectMessages,
  HELLO,
  nextFront,
  rawTlsClient,
  sendRaw,
  sharedCredentials,
  socketClosed,
  startServer,
  welcomeFields,
  withTimeout,
} from './helpers.js';

function newClient(port: number, credentials: ClusterCredentials, link: ClusterLinkOptions = {}, frontId = 'front-1') {
  return new ClusterClient({
    host: '127.0.0.1',
    port,
    credentials,
    hello: { frontId, listenAddresses: [], capacity: 10, holdsNodeKey: true },
    link,
    backoff: { initialMs: 50, maxMs: 300 },
  });
}

async function connectPair(t: ExecutionContext, options: { server?: ClusterLinkOptions; client?: ClusterLinkOptions } = {}) {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials, { link: options.server ?? {} });
  t.teardown(() => server.close());
  const client = newClient(port, credentials, options.client);
  t.teardown(() => client.stop());
  const front = nextFront(server);
  client.start();
  const up = await withTimeout(client.waitUntilUp(), 10_000, 'up');
  return { server, port, credentials, client, clientLink: up.link, serverLink: (await front).link };
}

function nextClose(link: ClusterLink): Promise<ClusterLinkClosed> {
  if (link.closeInfo) return Promise.resolve(link.closeInfo);
  return once(link, 'close').then(([closed]) => closed as ClusterLinkClosed);
}

// ---------------------------------------------------------------- malformed input

const badInputs: Array<{ name: string; code: ClusterProtocolErrorCode; bytes: () => Uint8Array; end?: boolean }> = [
  { name: 'garbage (an HTTP request)', code: 'frame-too-large', bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n') },
  { name: 'an oversized length', code: 'frame-too-large', bytes: () => new Uint8Array([0x00, 0x20, 0x00, 0x00, 0, 1]) },
  { name: 'a length too small for the type', code: 'frame-too-small', bytes: () => new Uint8Array([0, 0, 0, 1, 0]) },
  { name: 'a truncated frame then end of stream', code: 'truncated', bytes: () => encodeFrame(1, new Uint8Array(40)).subarray(0, 20), end: true },
  { name: 'an unknown frame type', code: 'unknown-frame-type', bytes: () => encodeFrame(0x7777, new Uint8Array(3)) },
  { name: 'a malformed hello', code: 'malformed', bytes: () => encodeFrame(1, new Uint8Array([0, 1, 0, 1, 0xff])) },
  { name: 'a heartbeat instead of hello', code: 'unexpected-message', bytes: () => encodeFrame(3, new Uint8Array([0])) },
];

for (const input of badInputs) {
  test(`before hello, ${input.name} closes that connection with '${input.code}' and the server keeps serving`, async (t) => {
    const credentials = await sharedCredentials();
    const { server, port } = await startServer(credentials);
    t.teardown(() => server.close());
    const raw = await rawTlsClient(port, credentials, credentials);
    const received = collectMessages(raw);
    const rejected = once(server, 'rejected').then(([r]) => r as ClusterConnectionRejected);
    raw.write(input.bytes());
    if (input.end) raw.end();
    const { error } = await withTimeout(rejected, 10_000, 'rejected');
    t.true(error instanceof ClusterProtocolError);
    t.is((error as ClusterProtocolError).code, input.code);
    await withTimeout(socketClosed(raw), 10_000, 'close');
    if (!input.end) {
      const notice = received.messages.find((m) => m.type === 'error');
      t.is(notice?.type === 'error' ? notice.code : undefined, input.code, 'the peer is told why');
    }
    const client = newClient(port, credentials);
    t.teardown(() => client.stop());
    client.start();
    await withTimeout(client.waitUntilUp(), 10_000, 'a good client afterwards');
    t.pass();
  });
}

test('after the handshake, a malformed frame closes only that front link with a protocol error', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  const good = newClient(port, credentials, {}, 'good');
  t.teardown(() => good.stop());
  good.start();
  await withTimeout(good.waitUntilUp(), 10_000, 'good up');
  const raw = await rawTlsClient(port, credentials, credentials);
  const front = nextFront(server);
  sendRaw(raw, { ...HELLO, frontId: 'bad' });
  const { link } = await withTimeout(front, 10_000, 'front');
  const closed = nextClose(link);
  raw.write(encodeFrame(16, new Uint8Array(5))); // peer-ready, far too short
  const info = await withTimeout(closed, 10_000, 'close');
  t.is(info.reason, 'protocol-error');
  t.is((info.error as ClusterProtocolError).code, 'malformed');
  t.false(server.frontLinks.has('bad'));
  t.true(server.frontLinks.has('good'));
  t.true(good.isUp);
  t.true(good.link!.send({ type: 'heartbeat' }));
});

test('a second hello after the handshake is a protocol error', async (t) => {
  const { client, serverLink } = await connectPair(t);
  const closed = nextClose(serverLink);
  client.link!.send({ ...HELLO, type: 'hello' });
  t.is((await withTimeout(closed, 10_000, 'close')).reason, 'protocol-error');
});

test('no common protocol version: the front is told and disconnected', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  const raw = await rawTlsClient(port, credentials, credentials);
  const received = collectMessages(raw);
  sendRaw(raw, { ...HELLO, minVersion: 7, maxVersion: 9 });
  const notice = await withTimeout(received.next('error'), 10_000, 'error frame');
  t.is(notice.type === 'error' ? notice.code : '', 'version-mismatch');
  await withTimeout(socketClosed(raw), 10_000, 'close');
});

test('a front the back refuses (welcome throws) gets an error frame', async (t) => {
  const credentials = await sharedCredentials();
  const { ClusterServer } = await import('../../src/cluster/index.js');
  const server = new ClusterServer({
    credentials,
    welcome: (hello) => {
      throw new Error(`front ${hello.frontId} is not allowed`);
    },
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const raw = await rawTlsClient(port, credentials, credentials);
  const received = collectMessages(raw);
  sendRaw(raw, HELLO);
  const notice = await withTimeout(received.next('error'), 10_000, 'error frame');
  t.regex(notice.type === 'error' ? notice.text : '', /not allowed/);
});

test('a silent client is dropped when no hello arrives in time', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials, { handshakeTimeoutMs: 1000 });
  t.teardown(() => server.close());
  const raw = await rawTlsClient(port, credentials, credentials);
  raw.resume();
  const [rejected] = await withTimeout(once(server, 'rejected'), 10_000, 'rejected');
  t.is(((rejected as ClusterConnectionRejected).error as ClusterProtocolError).code, 'handshake-timeout');
  await withTimeout(socketClosed(raw), 10_000, 'close');
});

// ---------------------------------------------------------------- messages both ways

test('messages flow both ways in order, including large ones', async (t) => {
  const { clientLink, serverLink } = await connectPair(t);
  const node = new Uint8Array(33).fill(2);
  const toBack: number[] = [];
  const toFront: number[] = [];
  serverLink.on('message', (m) => m.type === 'peer-message' && toBack.push(m.sessionId));
  clientLink.on('message', (m) => m.type === 'send-to-peer' && m.target.kind === 'session' && toFront.push(m.target.sessionId));
  const big = new Uint8Array(200_000).fill(0xab);
  for (let i = 0; i < 50; i++) {
    clientLink.send({ type: 'peer-message', sessionId: i, nodeId: node, data: i % 10 === 0 ? big : new Uint8Array([0, 16]) });
    serverLink.send({ type: 'send-to-peer', target: { kind: 'session', sessionId: i }, data: new Uint8Array([0, 18]) });
  }
  while (toBack.length < 50 || toFront.length < 50) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(toBack, [...Array(50).keys()]);
  t.deepEqual(toFront, [...Array(50).keys()]);
  t.throws(() => clientLink.send({ type: 'gossip', subType: 1, payload: new Uint8Array(2 * 1024 * 1024) }), { instanceOf: ClusterProtocolError });
  t.false(clientLink.closed, 'an oversized send is the caller\'s error, not the link\'s');
});

// ---------------------------------------------------------------- backpressure

test('backpressure: with the reader paused, send() returns false, the queue stays bounded, and everything arrives after resume', async (t) => {
  const highWaterBytes = 256 * 1024;
  const { clientLink, serverLink } = await connectPair(t, { client: { highWaterBytes } });
  const node = new Uint8Array(33).fill(2);
  const received: number[] = [];
  serverLink.on('message', (m) => m.type === 'peer-message' && received.push(m.sessionId));
  serverLink.pause();
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  let maxQueued = 0;
  // Send until a 'drain' does not come: the paused reader has filled every buffer on the way.
  for (;;) {
    while (clientLink.send({ type: 'peer-message', sessionId: sent, nodeId: node, data: chunk })) {
      sent++;
      maxQueued = Math.max(maxQueued, clientLink.queued.bytes);
    }
    sent++;
    maxQueued = Math.max(maxQueued, clientLink.queued.bytes);
    t.true(clientLink.writableNeedDrain);
    const drained = await Promise.race([
      once(clientLink, 'drain').then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    if (!drained) break;
    if (sent > 2000) t.fail('the sender never saw backpressure');
  }
  t.true(maxQueued <= highWaterBytes + chunk.length + 100, `queued ${maxQueued} bytes`);
  t.true(received.length < sent, 'the paused reader did not deliver everything');
  t.false(serverLink.closed, 'a paused reader is not declared dead');
  t.false(clientLink.closed);
  const drained = once(clientLink, 'drain');
  serverLink.resume();
  await withTimeout(drained, 20_000, 'drain');
  while (received.length < sent) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(received, [...Array(sent).keys()]);
  t.true(clientLink.send({ type: 'heartbeat' }));
});

test('a sender that ignores backpressure hits the hard cap: the link closes instead of buffering without bound', async (t) => {
  const { clientLink } = await connectPair(t, { client: { highWaterBytes: 64 * 1024, maxQueuedBytes: 1024 * 1024 } });
  const node = new Uint8Array(33).fill(2);
  const closed = nextClose(clientLink);
  let falses = 0;
  let maxQueued = 0;
  for (let i = 0; i < 1000 && !clientLink.closed; i++) {
    if (!clientLink.send({ type: 'peer-message', sessionId: i, nodeId: node, data: new Uint8Array(16 * 1024) })) falses++;
    maxQueued = Math.max(maxQueued, clientLink.queued.bytes);
  }
  const info = await closed;
  t.is(info.reason, 'queue-overflow');
  t.true(falses > 0);
  t.true(maxQueued <= 1024 * 1024);
  t.false(clientLink.send({ type: 'heartbeat' }), 'a closed link refuses messages');
});

test('pause() holds back messages already received', async (t) => {
  const { clientLink, serverLink } = await connectPair(t);
  const got: string[] = [];
  serverLink.on('message', (m) => {
    if (m.type !== 'gossip') return;
    got.push(String(m.subType));
    if (m.subType === 1) serverLink.pause();
  });
  for (let i = 1; i <= 3; i++) clientLink.send({ type: 'gossip', subType: i, payload: new Uint8Array(1) });
  while (got.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(got, ['1']);
  serverLink.resume();
  while (got.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(got, ['1', '2', '3']);
});

// ---------------------------------------------------------------- heartbeats

test('the back declares a silent front dead within deadAfterMs', async (t) => {
  const credentials = await sharedCredentials();
  const deadAfterMs = 600;
  const { server, port } = await startServer(credentials, { link: { heartbeatIntervalMs: 200, deadAfterMs } });
  t.teardown(() => server.close());
  const raw = await rawTlsClient(port, credentials, credentials);
  const received = collectMessages(raw);
  const front = nextFront(server);
  const start = Date.now();
  sendRaw(raw, HELLO);
  const welcome = await withTimeout(received.next('welcome'), 10_000, 'welcome');
  t.is(welcome.type === 'welcome' ? welcome.linkDeadAfterMs : 0, deadAfterMs, 'the front is told the deadline');
  const { link } = await front;
  // The raw client reads (its TCP stays healthy) but never sends: like a hung front process.
  const info = await withTimeout(nextClose(link), 10_000, 'heartbeat timeout');
  const elapsed = Date.now() - start;
  t.is(info.reason, 'heartbeat-timeout');
  t.true(elapsed >= deadAfterMs - 50, `closed after ${elapsed} ms`);
  t.true(elapsed < deadAfterMs + 2000, `closed after ${elapsed} ms`);
  t.false(server.frontLinks.has(HELLO.frontId));
});

test('heartbeats keep an idle link alive well past deadAfterMs, and carry the front load', async (t) => {
  const load = { livePeers: 4, handshakesInProgress: 1, bytesInPerSecond: 10, bytesOutPerSecond: 20, dialsInProgress: 0 };
  const timing = { heartbeatIntervalMs: 200, deadAfterMs: 1000 };
  const { clientLink, serverLink } = await connectPair(t, { server: timing, client: { loadProvider: () => load } });
  const loads: unknown[] = [];
  serverLink.on('message', (m) => m.type === 'heartbeat' && loads.push(m.load));
  let frontHeartbeats = 0;
  clientLink.on('message', (m) => m.type === 'heartbeat' && frontHeartbeats++);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.false(serverLink.closed, serverLink.closeInfo?.message);
  t.false(clientLink.closed, clientLink.closeInfo?.message);
  t.true(loads.length >= 1);
  t.deepEqual(loads[0], load);
  t.true(frontHeartbeats >= 1);
});

test('a front declares a silent back dead, adopting the deadline from welcome', async (t) => {
  const credentials = await sharedCredentials();
  // A fake back that answers hello and then never sends anything again.
  const fake = createClusterTlsServer(credentials);
  const sockets: TLSSocket[] = [];
  fake.on('secureConnection', (socket: TLSSocket) => {
    sockets.push(socket);
    const received = collectMessages(socket);
    void received.next('hello').then(() =>
      sendRaw(socket, { type: 'welcome', version: 1, ...welcomeFields(), linkHeartbeatIntervalMs: 100, linkDeadAfterMs: 500 }),
    );
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    fake.close();
  });
  const port = (fake.address() as { port: number }).port;
  const client = newClient(port, credentials);
  t.teardown(() => client.stop());
  client.start();
  const up = await withTimeout(client.waitUntilUp(), 10_000, 'up');
  const start = Date.now();
  const [down] = await withTimeout(once(client, 'down'), 10_000, 'down');
  const elapsed = Date.now() - start;
  t.is(down.closed.reason, 'heartbeat-timeout');
  t.true(elapsed < 500 + 2000, `down after ${elapsed} ms`);
  t.true(up.link.closed);
});

// ---------------------------------------------------------------- reconnection

test('the client reconnects after the back restarts, and a second link with the same front id replaces the first', async (t) => {
  const credentials = await sharedCredentials();
  const first = await startServer(credentials);
  const port = first.port;
  const client = newClient(port, credentials);
  t.teardown(() => client.stop());
  client.start();
  await withTimeout(client.waitUntilUp(), 10_000, 'first up');
  const down = once(client, 'down');
  await first.server.close();
  t.truthy((await withTimeout(down, 10_000, 'down'))[0]);
  t.false(client.isUp);
  let second: { server: ClusterServer; port: number } | undefined;
  for (let attempt = 0; !second; attempt++) {
    try {
      second = await startServer(credentials, { port });
    } catch (error) {
      if (attempt > 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const server = second.server;
  t.teardown(() => server.close());
  const front = nextFront(server);
  const up = await withTimeout(once(client, 'up'), 15_000, 'up again');
  t.truthy(up);
  const accepted = await front;
  t.is(accepted.frontId, 'front-1');

  // Same front id from another connection: the older link is closed as 'replaced'.
  const oldClosed = nextClose(accepted.link);
  const clientDown = once(client, 'down');
  const raw = await rawTlsClient(port, credentials, credentials);
  t.teardown(() => raw.destroy());
  const replacement = nextFront(server);
  sendRaw(raw, { ...HELLO, frontId: 'front-1' });
  const newer = await withTimeout(replacement, 10_000, 'replacement');
  t.is((await oldClosed).reason, 'replaced');
  t.is(server.frontLinks.get('front-1'), newer.link);
  const [{ closed }] = await withTimeout(clientDown, 10_000, 'client told');
  t.is(closed.reason, 'remote-error');
  t.regex(closed.message, /replaced/);
});

test('an aborted signal stops the client for good', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  const controller = new AbortController();
  const client = new ClusterClient({
    host: '127.0.0.1',
    port,
    credentials,
    hello: { frontId: 'f', listenAddresses: [], capacity: 1, holdsNodeKey: true },
    signal: controller.signal,
  });
  client.start();
  const { link } = await withTimeout(client.waitUntilUp(), 10_000, 'up');
  const stopped = once(client, 'stopped');
  const serverSide = server.frontLinks.get('f')!;
  const serverClosed = nextClose(serverSide);
  controller.abort();
  await stopped;
  t.true(link.closed);
  t.is((await withTimeout(serverClosed, 10_000, 'server side closed')).reason, 'remote-closed');
  t.false(client.isUp);
});
