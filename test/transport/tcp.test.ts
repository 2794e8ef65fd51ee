// The socket wrapper over real TCP on 127.0.0.1: ours to ours, split and coalesced reads, failures.
import test from 'ava';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import {
  encryptFrame,
  localStaticKey,
  NoiseConnection,
  noiseAccept,
  noiseConnect,
  NoiseInitiator,
  TransportError,
  type StaticKey,
} from '../../src/lightning/transport/index.js';
import { dial, listen, nextMessages, readExactly, testMessage, writeFlushed } from './tcp-helpers.js';

const crypto = defaultCrypto();
const serverKey = localStaticKey(crypto.randomSecretKey(), crypto);
const clientKey = localStaticKey(crypto.randomSecretKey(), crypto);

/** A key whose ECDH answers asynchronously, like a keyless front asking the back. */
function delegatedKey(local: StaticKey): StaticKey & { calls: number } {
  const key = {
    publicKey: local.publicKey,
    calls: 0,
    ecdh: (point: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) => {
        key.calls++;
        setImmediate(() => {
          try {
            resolve(local.ecdh(point) as Uint8Array);
          } catch (error) {
            reject(error);
          }
        });
      }),
  };
  return key;
}

/** A server whose accepted connections (or handshake failures) are handed out in order. */
async function noiseServer(staticKey: StaticKey, timeoutMs?: number) {
  const accepted: Array<Promise<NoiseConnection>> = [];
  const server = await listen((socket) => {
    const pending = noiseAccept(socket, { staticKey, crypto, timeoutMs });
    pending.catch(() => {}); // observed by the test through `accepted`
    accepted.push(pending);
  });
  return {
    port: server.port,
    close: server.close,
    /** The n-th accepted handshake; waits until that connection arrives. */
    async accepted(index = 0): Promise<NoiseConnection> {
      while (accepted.length <= index) await new Promise((resolve) => setImmediate(resolve));
      return accepted[index]!;
    },
  };
}

async function connectPair(responderKey: StaticKey = serverKey, initiatorKey: StaticKey = clientKey) {
  const server = await noiseServer(responderKey);
  const client = await noiseConnect(dial(server.port), { staticKey: initiatorKey, remoteNodeId: responderKey.publicKey, crypto });
  const accepted = await server.accepted();
  return { server, client, accepted };
}

test('ours to ours: both sides authenticate and 1,200 messages cross two key rotations each way', async (t) => {
  const { server, client, accepted } = await connectPair();
  t.deepEqual(client.remoteNodeId, serverKey.publicKey);
  t.deepEqual(accepted.remoteNodeId, clientKey.publicKey);
  t.deepEqual(client.handshakeHash, accepted.handshakeHash);
  const count = 1200;
  const atServer = nextMessages(accepted, count);
  const atClient = nextMessages(client, count);
  for (let i = 0; i < count; i++) {
    client.send(testMessage(i, 1 + (i % 700)));
    accepted.send(testMessage(i + 1_000_000, 1 + (i % 300)));
  }
  const [serverGot, clientGot] = await Promise.all([atServer, atClient]);
  t.deepEqual(serverGot, Array.from({ length: count }, (_, i) => testMessage(i, 1 + (i % 700))));
  t.deepEqual(clientGot, Array.from({ length: count }, (_, i) => testMessage(i + 1_000_000, 1 + (i % 300))));
  const closedAtServer = once(accepted, 'close');
  const closedAtClient = once(client, 'close');
  client.close();
  t.deepEqual(await closedAtClient, [undefined]);
  t.deepEqual(await closedAtServer, [undefined]);
  t.throws(() => client.send(testMessage(0)), { instanceOf: TransportError, message: /closed/ });
  await server.close();
});

test('keyless: the static-key ECDH answered asynchronously on both sides', async (t) => {
  const responderKey = delegatedKey(serverKey);
  const initiatorKey = delegatedKey(clientKey);
  const { server, client, accepted } = await connectPair(responderKey, initiatorKey);
  t.is(responderKey.calls, 1, 'responder: one static ECDH (act 1)');
  t.is(initiatorKey.calls, 1, 'initiator: one static ECDH (act 3)');
  const got = nextMessages(accepted, 1);
  client.send(testMessage(7));
  t.deepEqual(await got, [testMessage(7)]);
  client.close();
  await once(accepted, 'close');
  await server.close();
});

test('a failing remote ECDH is a typed error and the socket is closed', async (t) => {
  const broken: StaticKey = { publicKey: serverKey.publicKey, ecdh: () => Promise.reject(new Error('back unreachable')) };
  const server = await noiseServer(broken);
  const client = noiseConnect(dial(server.port), { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto });
  const serverError = await t.throwsAsync(server.accepted(), { instanceOf: TransportError });
  t.is(serverError?.code, 'static-key-failed');
  const clientError = await t.throwsAsync(client, { instanceOf: TransportError });
  t.is(clientError?.code, 'closed');
  await server.close();
});

/** Handshake by hand over a raw socket, so the test controls exactly how bytes are written. */
async function rawInitiator(port: number) {
  const socket = dial(port);
  await once(socket, 'connect');
  socket.setNoDelay(true);
  const initiator = new NoiseInitiator({ crypto, staticKey: clientKey, remoteStaticKey: serverKey.publicKey });
  await writeFlushed(socket, initiator.createAct1());
  const { act3, result } = await initiator.processAct2(await readExactly(socket, 50));
  return { socket, act3, result };
}

test('coalesced and split reads: act 3 plus 100 frames in one write, then 40 frames byte by byte', async (t) => {
  const server = await noiseServer(serverKey);
  const { socket, act3, result } = await rawInitiator(server.port);
  const frames = Array.from({ length: 140 }, (_, i) => encryptFrame(result.sendCipher, testMessage(i, 1 + ((i * 37) % 2000))));
  const first = new Uint8Array(act3.length + frames.slice(0, 100).reduce((sum, f) => sum + f.length, 0));
  first.set(act3, 0);
  let offset = act3.length;
  for (const frame of frames.slice(0, 100)) {
    first.set(frame, offset);
    offset += frame.length;
  }
  const accepted = server.accepted();
  await writeFlushed(socket, first);
  const connection = await accepted;
  const got = nextMessages(connection, 140);
  for (const frame of frames.slice(100)) {
    for (let i = 0; i < frame.length; i++) await writeFlushed(socket, frame.subarray(i, i + 1));
  }
  t.deepEqual(await got, Array.from({ length: 140 }, (_, i) => testMessage(i, 1 + ((i * 37) % 2000))));
  socket.destroy();
  t.deepEqual(await once(connection, 'close'), [undefined]);
  await server.close();
});

test('a bad MAC mid-stream: earlier messages arrive, then close with bad-mac and the socket is destroyed', async (t) => {
  const server = await noiseServer(serverKey);
  const { socket, act3, result } = await rawInitiator(server.port);
  await writeFlushed(socket, act3);
  const connection = await server.accepted();
  const messages: Uint8Array[] = [];
  connection.on('message', (message) => messages.push(message));
  const closed = once(connection, 'close');
  const rawClosed = once(socket, 'close');
  const good = [encryptFrame(result.sendCipher, testMessage(1)), encryptFrame(result.sendCipher, testMessage(2))];
  const bad = encryptFrame(result.sendCipher, testMessage(3));
  bad[bad.length - 1] ^= 0xff;
  await writeFlushed(socket, good[0]!);
  await writeFlushed(socket, good[1]!);
  await writeFlushed(socket, bad);
  const [error] = (await closed) as [TransportError];
  t.true(error instanceof TransportError);
  t.is(error.code, 'bad-mac');
  t.deepEqual(messages, [testMessage(1), testMessage(2)]);
  await rawClosed;
  t.true(connection.isClosed);
  await server.close();
});

test('handshake timeout on both roles: typed error, socket destroyed', async (t) => {
  const server = await noiseServer(serverKey, 200);
  const raw = dial(server.port);
  await once(raw, 'connect');
  raw.write(new Uint8Array(20)); // part of an act 1, then silence
  const rawClosed = once(raw, 'close');
  const error = await t.throwsAsync(server.accepted(), { instanceOf: TransportError });
  t.is(error?.code, 'timeout');
  await rawClosed;
  await server.close();

  const silent: Socket[] = [];
  const mute = await listen((socket) => silent.push(socket));
  const socket = dial(mute.port);
  const initiatorError = await t.throwsAsync(
    noiseConnect(socket, { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto, timeoutMs: 200 }),
    { instanceOf: TransportError },
  );
  t.is(initiatorError?.code, 'timeout');
  t.true(socket.destroyed);
  await mute.close();
});

test('abort signal, refused connection and an already closed socket are typed errors', async (t) => {
  const mute = await listen(() => {});
  const controller = new AbortController();
  const pending = noiseConnect(dial(mute.port), { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto, signal: controller.signal });
  setImmediate(() => controller.abort());
  t.is((await t.throwsAsync(pending, { instanceOf: TransportError }))?.code, 'aborted');
  const port = mute.port;
  await mute.close();

  const refused = await t.throwsAsync(noiseConnect(dial(port), { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto }), {
    instanceOf: TransportError,
  });
  t.true(refused?.code === 'socket-error' || refused?.code === 'closed');

  const destroyed = dial(port);
  destroyed.destroy();
  const closed = await t.throwsAsync(noiseConnect(destroyed, { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto }), {
    instanceOf: TransportError,
  });
  t.is(closed?.code, 'closed');
});

test('dialing the wrong node id fails act 1 at the responder (bad-mac), the initiator sees closed', async (t) => {
  const server = await noiseServer(serverKey);
  const other = localStaticKey(crypto.randomSecretKey(), crypto);
  const client = noiseConnect(dial(server.port), { staticKey: clientKey, remoteNodeId: other.publicKey, crypto });
  const serverError = await t.throwsAsync(server.accepted(), { instanceOf: TransportError });
  t.is(serverError?.code, 'bad-mac');
  t.is(serverError?.act, 1);
  t.is((await t.throwsAsync(client, { instanceOf: TransportError }))?.code, 'closed');
  await server.close();
});

test('an invalid remote node id is refused before any byte is sent', async (t) => {
  const server = await noiseServer(serverKey);
  const socket = dial(server.port);
  const error = await t.throwsAsync(noiseConnect(socket, { staticKey: clientKey, remoteNodeId: new Uint8Array(33), crypto }), {
    instanceOf: TransportError,
  });
  t.is(error?.code, 'bad-key');
  t.true(socket.destroyed);
  await server.close();
});

test('an oversized message is refused and the connection keeps working', async (t) => {
  const { server, client, accepted } = await connectPair();
  const error = t.throws(() => client.send(new Uint8Array(65536)), { instanceOf: TransportError });
  t.is(error?.code, 'message-too-large');
  const got = nextMessages(accepted, 2);
  client.send(new Uint8Array(65535).fill(3));
  client.send(testMessage(9));
  t.deepEqual(await got, [new Uint8Array(65535).fill(3), testMessage(9)]);
  client.close();
  await once(accepted, 'close');
  await server.close();
});

test('pause() stops delivery and pushes back on the sender over TCP; resume() delivers everything in order', async (t) => {
  const { server, client, accepted } = await connectPair();
  accepted.pause();
  let delivered = 0;
  accepted.on('message', () => delivered++);
  const size = 16_000;
  let sent = 0;
  // Keep sending until TCP backpressure reaches the sender (bounded in case it never does).
  while (sent < 4000) {
    const more = client.send(testMessage(sent, size));
    sent++;
    if (!more) break;
    if (sent % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  t.log(`backpressure after ${sent} messages`);
  t.true(sent < 4000, 'send() returned false: backpressure reached the sender');
  t.is(delivered, 0);
  const drained = once(client, 'drain');
  const all = nextMessages(accepted, sent);
  accepted.resume();
  const got = await all;
  await drained;
  t.is(got.length, sent);
  t.true(got.every((message, index) => message.length === size && new DataView(message.buffer, message.byteOffset).getUint32(0) === index));
  client.close();
  await once(accepted, 'close');
  await server.close();
});

test('a remote ECDH answering after the handshake timed out changes nothing', async (t) => {
  let answer: (() => void) | undefined;
  const slow: StaticKey = {
    publicKey: serverKey.publicKey,
    ecdh: (point) =>
      new Promise<Uint8Array>((resolve) => {
        answer = () => resolve(serverKey.ecdh(point) as Uint8Array);
      }),
  };
  const server = await noiseServer(slow, 150);
  const client = noiseConnect(dial(server.port), { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto });
  client.catch(() => {});
  const error = await t.throwsAsync(server.accepted(), { instanceOf: TransportError });
  t.is(error?.code, 'timeout');
  t.truthy(answer, 'the responder was waiting on the static-key ECDH');
  answer!();
  t.is((await t.throwsAsync(client, { instanceOf: TransportError }))?.code, 'closed');
  await new Promise((resolve) => setImmediate(resolve));
  await server.close();
});

test('noiseAccept takes bytes already read off the socket (initialData), as after a PROXY header', async (t) => {
  const accepted: Array<Promise<NoiseConnection>> = [];
  const server = await listen((socket) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      const pending = noiseAccept(socket, { staticKey: serverKey, crypto, initialData: new Uint8Array(chunk) });
      pending.catch(() => {});
      accepted.push(pending);
    });
  });
  const client = await noiseConnect(dial(server.port), { staticKey: clientKey, remoteNodeId: serverKey.publicKey, crypto });
  while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const connection = await accepted[0]!;
  t.deepEqual(connection.remoteNodeId, clientKey.publicKey);
  const got = nextMessages(connection, 1);
  client.send(testMessage(5));
  t.deepEqual(await got, [testMessage(5)]);
  client.close();
  await once(connection, 'close');
  await server.close();
});
