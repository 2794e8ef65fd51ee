import test from 'ava';
import {
  ClusterProtocolError,
  CLUSTER_PROTOCOL_VERSION,
  MIN_CLUSTER_PROTOCOL_VERSION,
  SERVICE_STATE_MIN_VERSION,
  decodeMessage,
  negotiateVersion,
  encodeFrame,
  encodeMessagePayload,
  FRAME_TYPES,
  FrameDecoder,
  frameTypeOf,
  type ClusterMessage,
  type ClusterMessageType,
} from '../../src/cluster/index.js';

const node = new Uint8Array(33).fill(3);
const bytes = (...values: number[]) => new Uint8Array(values);

/** One sample of every message type (the `satisfies` makes a missing type a compile error). */
const samples = {
  hello: { type: 'hello', minVersion: 1, maxVersion: 1, frontId: 'front-é1', listenAddresses: ['127.0.0.1:9735', '[::1]:9736'], capacity: 5000, holdsNodeKey: false },
  welcome: {
    type: 'welcome',
    version: 1,
    nodeId: node,
    chainHash: new Uint8Array(32).fill(9),
    initFeatures: bytes(0x08, 0xa0, 0x82),
    pingIntervalMs: 30000,
    pingTimeoutMs: 60000,
    linkHeartbeatIntervalMs: 1000,
    linkDeadAfterMs: 3000,
    settingsJson: '{"a":1}',
  },
  heartbeat: { type: 'heartbeat', load: { livePeers: 12, handshakesInProgress: 3, bytesInPerSecond: 1234.5, bytesOutPerSecond: 0, dialsInProgress: 1 } },
  'peer-ready': { type: 'peer-ready', sessionId: 2 ** 40 + 5, nodeId: node, remoteAddress: '203.0.113.9:51234', direction: 'outbound', initMessage: bytes(0, 16, 0, 0) },
  'peer-down': { type: 'peer-down', sessionId: 7, nodeId: node, reason: 'pong timeout' },
  'peer-message': { type: 'peer-message', sessionId: 7, nodeId: node, data: bytes(0, 32, 1, 2, 3) },
  'send-to-peer': { type: 'send-to-peer', target: { kind: 'node', nodeId: node }, data: bytes(0, 17) },
  'disconnect-peer': { type: 'disconnect-peer', target: { kind: 'session', sessionId: 99 }, reason: 'operator' },
  'connect-request': { type: 'connect-request', requestId: 4, nodeId: node, host: 'abcdefghij.onion', port: 9735 },
  'connect-result': { type: 'connect-result', requestId: 4, outcome: 'connected', message: 'ok', sessionId: 8 },
  'ecdh-request': { type: 'ecdh-request', requestId: 5, point: node },
  'ecdh-reply': { type: 'ecdh-reply', requestId: 5, result: { ok: true, secret: new Uint8Array(32).fill(1) } },
  gossip: { type: 'gossip', subType: 3, payload: bytes(1, 2, 3) },
  'service-state': { type: 'service-state', draining: true },
  error: { type: 'error', code: 'malformed', text: 'bad frame' },
} satisfies { [T in ClusterMessageType]: Extract<ClusterMessage, { type: T }> };

const extraSamples: ClusterMessage[] = [
  { type: 'heartbeat' },
  { type: 'connect-result', requestId: 1, outcome: 'auth-failed', message: 'act 2 MAC' },
  { type: 'ecdh-reply', requestId: 6, result: { ok: false, error: 'rate limited' } },
  { type: 'send-to-peer', target: { kind: 'session', sessionId: 0 }, data: new Uint8Array(0) },
  { type: 'hello', minVersion: 1, maxVersion: 1, frontId: 'f', listenAddresses: [], capacity: 0, holdsNodeKey: true },
  { type: 'service-state', draining: false },
];

function roundTrip(message: ClusterMessage): ClusterMessage {
  const frame = encodeFrame(frameTypeOf(message.type), encodeMessagePayload(message));
  const decoder = new FrameDecoder();
  // Byte by byte: the decoder must reassemble frames split anywhere.
  for (const byte of frame) decoder.push(bytes(byte));
  const decoded = decoder.next();
  if (!decoded) throw new Error('no frame');
  return decodeMessage(decoded.type, decoded.payload);
}

test('every message type survives encode, framing split byte by byte, and decode', (t) => {
  for (const message of [...Object.values(samples), ...extraSamples] as ClusterMessage[]) {
    t.deepEqual(roundTrip(message), message, message.type);
  }
  t.is(Object.keys(samples).length, Object.keys(FRAME_TYPES).length);
});

test('several frames in one chunk come out in order', (t) => {
  const frames = Object.values(samples).map((m) => encodeFrame(frameTypeOf(m.type), encodeMessagePayload(m as ClusterMessage)));
  const all = Buffer.concat(frames);
  const decoder = new FrameDecoder();
  decoder.push(all.subarray(0, 10));
  decoder.push(all.subarray(10));
  const types: string[] = [];
  for (let frame = decoder.next(); frame; frame = decoder.next()) types.push(decodeMessage(frame.type, frame.payload).type);
  t.deepEqual(types, Object.keys(samples));
  t.is(decoder.bufferedBytes, 0);
  t.notThrows(() => decoder.finish());
});

function protocolCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof ClusterProtocolError ? error.code : `not a ClusterProtocolError: ${String(error)}`;
  }
}

test('the decoder refuses an oversized length as soon as the header arrives', (t) => {
  const decoder = new FrameDecoder(1024);
  t.is(protocolCode(() => decoder.push(bytes(0, 0, 4, 1))), 'frame-too-large');
  t.is(protocolCode(() => new FrameDecoder().push(bytes(0xff, 0xff, 0xff, 0xff, 0))), 'frame-too-large');
  t.is(protocolCode(() => new FrameDecoder().push(bytes(0, 0, 0, 1, 0))), 'frame-too-small');
  t.is(protocolCode(() => encodeFrame(1, new Uint8Array(2000), 1024)), 'frame-too-large');
});

test('a stream that ends mid-frame is truncated', (t) => {
  const decoder = new FrameDecoder();
  decoder.push(encodeFrame(3, bytes(0)).subarray(0, 6));
  t.is(decoder.next(), undefined);
  t.is(protocolCode(() => decoder.finish()), 'truncated');
});

test('unknown frame types say the peer may be newer', (t) => {
  const error = t.throws(() => decodeMessage(999, bytes()), { instanceOf: ClusterProtocolError });
  t.is(error.code, 'unknown-frame-type');
  t.regex(error.message, /newer/);
  t.regex(error.message, new RegExp(`\\.\\.${CLUSTER_PROTOCOL_VERSION}`));
});

test('malformed payloads are typed errors: truncation, trailing bytes, bad enums, bad UTF-8, bad lengths', (t) => {
  const payload = (m: ClusterMessage) => encodeMessagePayload(m);
  const heartbeat = payload(samples.heartbeat);
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.heartbeat, heartbeat.subarray(0, heartbeat.length - 1))), 'malformed');
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.heartbeat, bytes(...heartbeat, 0))), 'malformed');
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.heartbeat, bytes(2))), 'malformed');
  const ready = payload(samples['peer-ready']);
  const badDirection = ready.slice();
  badDirection[8 + 33 + 2 + samples['peer-ready'].remoteAddress.length] = 7;
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['peer-ready'], badDirection)), 'malformed');
  const badUtf8 = payload({ type: 'error', code: 'x', text: 'y' });
  badUtf8[2] = 0xff;
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.error, badUtf8)), 'malformed');
  const result = payload({ type: 'connect-result', requestId: 1, outcome: 'refused', message: '' });
  result[8] = 42;
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['connect-result'], result)), 'malformed');
  const huge = payload({ type: 'peer-down', sessionId: 1, nodeId: node, reason: '' });
  huge.fill(0xff, 0, 8);
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['peer-down'], huge)), 'malformed', 'u64 beyond safe integers');
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['send-to-peer'], bytes(1, ...new Uint8Array(32)))), 'malformed', 'short node id');
  const emptyFront = payload({ ...samples.hello, frontId: '' });
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.hello, emptyFront)), 'malformed');
  // Random garbage never throws anything but ClusterProtocolError.
  for (let i = 0; i < 2000; i++) {
    const frameTypes = Object.values(FRAME_TYPES);
    const type = frameTypes[i % frameTypes.length]!;
    const garbage = new Uint8Array(Math.floor(Math.random() * 80)).map(() => Math.floor(Math.random() * 256));
    const code = protocolCode(() => decodeMessage(type, garbage));
    if (code !== undefined && code !== 'malformed') t.fail(`type ${type}: ${code}`);
  }
});

test('service-state is one strict boolean byte under its own frame type', (t) => {
  t.is(FRAME_TYPES['service-state'], 5);
  t.deepEqual(encodeMessagePayload({ type: 'service-state', draining: true }), bytes(1));
  t.deepEqual(encodeMessagePayload({ type: 'service-state', draining: false }), bytes(0));
  t.deepEqual(decodeMessage(FRAME_TYPES['service-state'], bytes(0)), { type: 'service-state', draining: false });
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['service-state'], bytes())), 'malformed', 'empty');
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['service-state'], bytes(2))), 'malformed', 'not a boolean');
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES['service-state'], bytes(1, 0))), 'malformed', 'trailing byte');
});

test('the protocol version that introduced service-state is inside the range this build speaks', (t) => {
  // A back sends service-state only on links negotiated at SERVICE_STATE_MIN_VERSION or later.
  t.true(SERVICE_STATE_MIN_VERSION <= CLUSTER_PROTOCOL_VERSION);
  t.true(SERVICE_STATE_MIN_VERSION > MIN_CLUSTER_PROTOCOL_VERSION, 'a version 1 front must still be able to link');
  t.is(negotiateVersion(1, 1), 1, 'an older front gets version 1');
  t.is(negotiateVersion(MIN_CLUSTER_PROTOCOL_VERSION, CLUSTER_PROTOCOL_VERSION), CLUSTER_PROTOCOL_VERSION);
});

test('hello and welcome tolerate fields appended by a newer version; other messages do not', (t) => {
  const hello = encodeMessagePayload(samples.hello);
  t.deepEqual(decodeMessage(FRAME_TYPES.hello, bytes(...hello, 1, 2, 3)), samples.hello);
  const welcome = encodeMessagePayload(samples.welcome);
  t.deepEqual(decodeMessage(FRAME_TYPES.welcome, bytes(...welcome, 9)), samples.welcome);
  t.is(protocolCode(() => decodeMessage(FRAME_TYPES.gossip, bytes(...encodeMessagePayload(samples.gossip), 9))), 'malformed');
});

test('encoding refuses values that do not fit', (t) => {
  t.throws(() => encodeMessagePayload({ ...samples['peer-down'], nodeId: new Uint8Array(32) }), { instanceOf: RangeError });
  t.throws(() => encodeMessagePayload({ ...samples['peer-down'], sessionId: -1 }), { instanceOf: RangeError });
  t.throws(() => encodeMessagePayload({ ...samples['connect-request'], port: 70000 }), { instanceOf: RangeError });
  t.throws(() => encodeMessagePayload({ type: 'heartbeat', load: { ...samples.heartbeat.load, bytesInPerSecond: Number.NaN } }), { instanceOf: RangeError });
});
