// Framing over arbitrary chunkings, buffering bound, bad MAC and size limits (in memory).
import test from 'ava';
import { nobleCrypto, defaultCrypto } from '../../src/lightning/crypto/index.js';
import {
  CipherState,
  encryptFrame,
  FrameDecoder,
  frameLength,
  MAX_MESSAGE_LENGTH,
  TransportError,
} from '../../src/lightning/transport/index.js';

const crypto = defaultCrypto();
const KEY = new Uint8Array(32).fill(7);
const CK = new Uint8Array(32).fill(9);

function pair(provider = crypto): { sender: CipherState; decoder: FrameDecoder } {
  return { sender: new CipherState(provider, KEY, CK), decoder: new FrameDecoder(new CipherState(provider, KEY, CK)) };
}

function message(index: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (index * 31 + i) & 0xff;
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Deterministic PRNG so a failing chunking can be reproduced. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

test('messages cross key rotations whatever the chunking: whole stream, byte by byte, random splits', (t) => {
  const lengths = Array.from({ length: 1300 }, (_, i) => [0, 1, 2, 17, 18, 19, 300, 4000][i % 8]!);
  const expected = lengths.map((length, index) => message(index, length));
  const { sender, decoder: wholeDecoder } = pair();
  const stream = concat(expected.map((m) => encryptFrame(sender, m)));

  t.deepEqual(wholeDecoder.pushAll(stream), expected, 'one chunk holding every frame');
  t.is(wholeDecoder.bufferedBytes, 0);

  const byteDecoder = pair().decoder;
  const byByte: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) byByte.push(...byteDecoder.pushAll(stream.subarray(i, i + 1)));
  t.is(byByte.length, expected.length);
  t.deepEqual(byByte, expected, 'one byte at a time');

  const random = prng(42);
  const randomDecoder = pair().decoder;
  const bySplit: Uint8Array[] = [];
  let maxBuffered = 0;
  for (let offset = 0; offset < stream.length; ) {
    const size = 1 + Math.floor(random() * 9000);
    bySplit.push(...randomDecoder.pushAll(stream.subarray(offset, offset + size)));
    maxBuffered = Math.max(maxBuffered, randomDecoder.bufferedBytes);
    offset += size;
  }
  t.deepEqual(bySplit, expected, 'random splits');
  t.true(maxBuffered < frameLength(4000), `buffered ${maxBuffered} bytes: never more than one frame`);
});

test('the largest message (65535 bytes) and the empty message round-trip; 65536 is refused without using a nonce', (t) => {
  for (const provider of [crypto, nobleCrypto]) {
    const { sender, decoder } = pair(provider);
    const big = message(1, MAX_MESSAGE_LENGTH);
    const frame = encryptFrame(sender, big);
    t.is(frame.length, frameLength(MAX_MESSAGE_LENGTH));
    const error = t.throws(() => encryptFrame(sender, new Uint8Array(MAX_MESSAGE_LENGTH + 1)), { instanceOf: TransportError });
    t.is(error?.code, 'message-too-large');
    const after = encryptFrame(sender, new Uint8Array(0));
    // Split in the middle of the large body: the partial buffer holds at most one frame.
    const half = Math.floor(frame.length / 2);
    t.deepEqual(decoder.pushAll(frame.subarray(0, half)), []);
    t.true(decoder.bufferedBytes <= frameLength(MAX_MESSAGE_LENGTH));
    t.deepEqual(decoder.pushAll(concat([frame.subarray(half), after])), [big, new Uint8Array(0)]);
    t.is(decoder.bufferedBytes, 0);
  }
});

test('a flipped bit mid-stream yields the messages before it, then bad-mac, and the decoder stays failed', (t) => {
  const { sender, decoder } = pair();
  const frames = [0, 1, 2, 3].map((i) => encryptFrame(sender, message(i, 40)));
  const tampered = frames[2]!.slice();
  tampered[20] ^= 0x01; // inside the body, after a valid length
  const received: Uint8Array[] = [];
  const stream = concat([frames[0]!, frames[1]!, tampered, frames[3]!]);
  const error = t.throws(() => decoder.push(stream, (m) => received.push(m)), { instanceOf: TransportError });
  t.is(error?.code, 'bad-mac');
  t.deepEqual(received, [message(0, 40), message(1, 40)]);
  const again = t.throws(() => decoder.pushAll(frames[3]!), { instanceOf: TransportError });
  t.is(again?.code, 'bad-mac');
  t.is(decoder.bufferedBytes, 0);
});

test('a bad MAC is found the same way when the stream arrives 7 bytes at a time', (t) => {
  const { sender, decoder } = pair();
  const frames = [0, 1, 2].map((i) => encryptFrame(sender, message(i, 40)));
  frames[1]![5] ^= 0x01; // inside the encrypted length
  const stream = concat(frames);
  const received: Uint8Array[] = [];
  const error = t.throws(() => {
    for (let offset = 0; offset < stream.length; offset += 7) decoder.push(stream.subarray(offset, offset + 7), (m) => received.push(m));
  }, { instanceOf: TransportError });
  t.is(error?.code, 'bad-mac');
  t.deepEqual(received, [message(0, 40)]);
});

test('an exception from the message callback is not mistaken for a bad MAC', (t) => {
  const { sender, decoder } = pair();
  const frames = concat([encryptFrame(sender, message(0, 10)), encryptFrame(sender, message(1, 10))]);
  t.throws(() => decoder.push(frames, () => { throw new RangeError('listener bug'); }), { instanceOf: RangeError });
});

test('a tampered length prefix fails before any body is buffered', (t) => {
  const { sender, decoder } = pair();
  const frame = encryptFrame(sender, message(0, 1000));
  frame[0] ^= 0x80;
  const error = t.throws(() => decoder.pushAll(frame.subarray(0, 18)), { instanceOf: TransportError });
  t.is(error?.code, 'bad-mac');
  t.is(decoder.bufferedBytes, 0);
});

test('cipher state rejects keys of the wrong size', (t) => {
  const error = t.throws(() => new CipherState(crypto, new Uint8Array(31), CK), { instanceOf: TransportError });
  t.is(error?.code, 'bad-length');
});
