// Interop over TCP with an independent implementation: @node-lightning/noise 0.26.1.
// Its defect: both directions' key rotations share one chaining key, so it breaks once BOTH directions
// of one connection have rotated. Each connection here therefore rotates in one direction only
// (2,500 messages = 5,000 nonces = 5 rotations one way; fewer than 500 messages the other way).
import test from 'ava';
import { once } from 'node:events';
import noise from '@node-lightning/noise';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { localStaticKey, noiseAccept, noiseConnect, TransportError, type NoiseConnection } from '../../src/lightning/transport/index.js';
import { dial, listen, nextMessages, testMessage } from './tcp-helpers.js';

const crypto = defaultCrypto();
const MANY = 2500;
const FEW = 20;

function expectedMessages(count: number, offset = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => testMessage(i + offset, 4 + ((i * 13) % 400)));
}

test('their initiator -> our responder: they send 2,500 messages (rotating), we send 20 back', async (t) => {
  const ourSecret = crypto.randomSecretKey();
  const ourKey = localStaticKey(ourSecret, crypto);
  const theirSecret = crypto.randomSecretKey();
  const accepted: Array<Promise<NoiseConnection>> = [];
  const server = await listen((socket) => accepted.push(noiseAccept(socket, { staticKey: ourKey, crypto })));
  t.teardown(() => server.close());

  const theirs = noise.connect({ ls: Buffer.from(theirSecret), rpk: Buffer.from(ourKey.publicKey), host: '127.0.0.1', port: server.port });
  theirs.on('error', () => {});
  t.teardown(() => theirs.destroy());
  const received: Buffer[] = [];
  theirs.on('data', (message: Buffer) => received.push(message));
  await once(theirs, 'ready');
  while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const ours = await accepted[0]!;
  t.deepEqual(ours.remoteNodeId, crypto.publicKey(theirSecret));
  t.deepEqual(new Uint8Array(theirs.rpk), ourKey.publicKey);

  const got = nextMessages(ours, MANY);
  for (const message of expectedMessages(MANY)) theirs.write(Buffer.from(message));
  t.deepEqual(await got, expectedMessages(MANY));

  for (const message of expectedMessages(FEW, 50_000)) ours.send(message);
  while (received.length < FEW) await once(theirs, 'data');
  t.deepEqual(received.map((message) => new Uint8Array(message)), expectedMessages(FEW, 50_000));

  const closed = once(ours, 'close');
  theirs.end();
  t.deepEqual(await closed, [undefined]);
});

test('our initiator -> their responder: we send 2,500 messages (rotating), they send 20 back', async (t) => {
  const theirSecret = crypto.randomSecretKey();
  const ourKey = localStaticKey(crypto.randomSecretKey(), crypto);
  const theirSockets: noise.NoiseSocket[] = [];
  const server = noise.createServer({ ls: Buffer.from(theirSecret) }, (socket) => {
    socket.on('error', () => {});
    theirSockets.push(socket);
  });
  server.on('error', () => {});
  t.teardown(() => {
    for (const socket of theirSockets) socket.destroy();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');

  const ours = await noiseConnect(dial(address.port), { staticKey: ourKey, remoteNodeId: crypto.publicKey(theirSecret), crypto });
  t.deepEqual(ours.remoteNodeId, crypto.publicKey(theirSecret));
  const theirs = theirSockets[0]!;
  if (theirs.rpk === undefined) await once(theirs, 'ready');
  t.deepEqual(new Uint8Array(theirs.rpk), ourKey.publicKey, 'they authenticated our node id');

  const received: Uint8Array[] = [];
  const all = new Promise<void>((resolve) => {
    theirs.on('data', (message: Buffer) => {
      received.push(new Uint8Array(message));
      if (received.length === MANY) resolve();
    });
  });
  for (const message of expectedMessages(MANY)) {
    if (!ours.send(message)) await once(ours, 'drain');
  }
  await all;
  t.deepEqual(received, expectedMessages(MANY));

  const back = nextMessages(ours, FEW);
  for (const message of expectedMessages(FEW, 70_000)) theirs.write(Buffer.from(message));
  t.deepEqual(await back, expectedMessages(FEW, 70_000));

  const closed = once(ours, 'close');
  ours.close();
  t.deepEqual(await closed, [undefined]);
  t.throws(() => ours.send(testMessage(1)), { instanceOf: TransportError });
});
