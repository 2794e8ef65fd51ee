// BOLT 8 Appendix A, every vector, with both crypto providers.
import test from 'ava';
import type { CryptoProvider } from '../../src/lightning/crypto/index.js';
import {
  CipherState,
  encryptFrame,
  FrameDecoder,
  localStaticKey,
  NoiseInitiator,
  NoiseResponder,
  TransportError,
  type HandshakeResult,
  type TransportErrorCode,
} from '../../src/lightning/transport/index.js';
import { errorName, hex, keyPair, loadBolt08Vectors, toHex, type VectorBlock } from './bolt08-vectors.js';
import { providers } from './providers.js';

const blocks = loadBolt08Vectors();
const initiatorBlocks = blocks.filter((block) => block.name.startsWith('transport-initiator'));
const responderBlocks = blocks.filter((block) => block.name.startsWith('transport-responder'));
const messageBlock = blocks.find((block) => block.name === 'transport-message test');
const HELLO = new TextEncoder().encode('hello');

/** The spec's failure names mapped to our error codes (a short read is a wrong-size act here). */
const ERROR_CODES: Record<string, TransportErrorCode> = {
  READ_FAILED: 'bad-length',
  BAD_VERSION: 'bad-version',
  BAD_PUBKEY: 'bad-key',
  BAD_TAG: 'bad-mac',
  BAD_CIPHERTEXT: 'bad-mac',
};

function expectedCode(name: string): { act: number; code: TransportErrorCode } {
  const match = /^ACT(\d)_(.*)$/.exec(name);
  if (!match || !ERROR_CODES[match[2]!]) throw new Error(`unknown vector error ${name}`);
  return { act: Number(match[1]), code: ERROR_CODES[match[2]!]! };
}

function field(block: VectorBlock, key: string): Uint8Array {
  const value = block.fields.get(key);
  if (value === undefined) throw new Error(`${block.name}: no ${key}`);
  return hex(value);
}

/** Session keys are private to CipherState: compare behaviour with a CipherState built from the vector's keys. */
function assertSessionKeys(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, crypto: CryptoProvider, result: HandshakeResult, sendKey: Uint8Array, receiveKey: Uint8Array, chainingKey: Uint8Array): void {
  const expectedSend = new CipherState(crypto, sendKey, chainingKey);
  t.deepEqual(toHex(encryptFrame(result.sendCipher, HELLO)), toHex(encryptFrame(expectedSend, HELLO)), 'send key');
  const peerSend = new CipherState(crypto, receiveKey, chainingKey);
  t.deepEqual(new FrameDecoder(result.receiveCipher).pushAll(encryptFrame(peerSend, HELLO)), [HELLO], 'receive key');
}

test('the fixture holds every Appendix A vector', (t) => {
  t.is(initiatorBlocks.length, 5);
  t.is(responderBlocks.length, 10);
  t.truthy(messageBlock);
  t.deepEqual([...messageBlock!.numberedOutputs.keys()], [0, 1, 500, 501, 1000, 1001]);
});

const FINAL_CK = hex('0x919219dbb2920afa8db80f9a51787a840bcf111ed8d588caf9ab4be716e42b01');
const FINAL_H = '5dcb5ea9b4ccc755e0e3456af3990641276e1d5dc9afd82f974d90a47c918660';

for (const crypto of providers) {
  for (const block of initiatorBlocks) {
    test(`[${crypto.name}] ${block.name}`, async (t) => {
      const initiator = new NoiseInitiator({
        crypto,
        staticKey: localStaticKey(field(block, 'ls.priv'), crypto),
        remoteStaticKey: field(block, 'rs.pub'),
        ephemeralSecret: field(block, 'e.priv'),
      });
      t.is(toHex(localStaticKey(field(block, 'ls.priv'), crypto).publicKey), toHex(field(block, 'ls.pub')));
      const [act1Out, act2In, act3Out, keys] = block.steps;
      t.is(act1Out?.kind, 'output');
      t.is(toHex(initiator.createAct1()), toHex(hex(act1Out!.value)));
      t.is(act2In?.kind, 'input');
      const failure = errorName(act3Out!.value);
      if (failure) {
        const expected = expectedCode(failure);
        const error = await t.throwsAsync(async () => initiator.processAct2(hex(act2In!.value)), { instanceOf: TransportError });
        t.is(error?.code, expected.code);
        t.is(error?.act, expected.act as 1 | 2 | 3);
        // A failed handshake cannot be resumed.
        t.throws(() => initiator.processAct2(hex(act2In!.value)), { instanceOf: TransportError, message: /state/ });
        return;
      }
      const { act3, result } = await initiator.processAct2(hex(act2In!.value));
      t.is(toHex(act3), toHex(hex(act3Out!.value)));
      t.is(toHex(result.remoteStaticKey), toHex(field(block, 'rs.pub')));
      t.is(toHex(result.handshakeHash), FINAL_H);
      const { sk, rk } = keyPair(keys!.value);
      assertSessionKeys(t, crypto, result, sk!, rk!, FINAL_CK);
    });
  }

  for (const block of responderBlocks) {
    test(`[${crypto.name}] ${block.name}`, async (t) => {
      const responder = new NoiseResponder({
        crypto,
        staticKey: localStaticKey(field(block, 'ls.priv'), crypto),
        ephemeralSecret: field(block, 'e.priv'),
      });
      t.is(toHex(localStaticKey(field(block, 'ls.priv'), crypto).publicKey), toHex(field(block, 'ls.pub')));
      const steps = [...block.steps];
      const act1In = steps.shift()!;
      const act2Out = steps.shift()!;
      t.is(act1In.kind, 'input');
      const act1Failure = errorName(act2Out.value);
      if (act1Failure) {
        const expected = expectedCode(act1Failure);
        const error = await t.throwsAsync(async () => responder.processAct1(hex(act1In.value)), { instanceOf: TransportError });
        t.is(error?.code, expected.code);
        t.is(error?.act, expected.act as 1 | 2 | 3);
        return;
      }
      t.is(toHex(await responder.processAct1(hex(act1In.value))), toHex(hex(act2Out.value)));
      const act3In = steps.shift()!;
      const final = steps.shift()!;
      t.is(act3In.kind, 'input');
      const act3Failure = errorName(final.value);
      if (act3Failure) {
        const expected = expectedCode(act3Failure);
        const error = t.throws(() => responder.processAct3(hex(act3In.value)), { instanceOf: TransportError });
        t.is(error?.code, expected.code);
        t.is(error?.act, expected.act as 1 | 2 | 3);
        return;
      }
      const result = responder.processAct3(hex(act3In.value));
      t.is(toHex(result.remoteStaticKey), '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa');
      t.is(toHex(result.handshakeHash), FINAL_H);
      const { sk, rk } = keyPair(final.value);
      assertSessionKeys(t, crypto, result, sk!, rk!, FINAL_CK);
    });
  }

  test(`[${crypto.name}] transport-message test: outputs 0, 1, 500, 501, 1000, 1001 and decryption across rotations`, (t) => {
    const block = messageBlock!;
    const sender = new CipherState(crypto, field(block, 'sk'), field(block, 'ck'));
    const decoder = new FrameDecoder(new CipherState(crypto, field(block, 'sk'), field(block, 'ck')));
    let checked = 0;
    for (let index = 0; index <= 1001; index++) {
      const frame = encryptFrame(sender, HELLO);
      const expected = block.numberedOutputs.get(index);
      if (expected !== undefined) {
        t.is(toHex(frame), toHex(hex(expected)), `output ${index}`);
        checked++;
      }
      t.deepEqual(decoder.pushAll(frame), [HELLO]);
    }
    t.is(checked, 6);
  });

  test(`[${crypto.name}] a remote (async) static key gives the same bytes as the vectors`, async (t) => {
    const initiatorBlock = initiatorBlocks[0]!;
    const responderBlock = responderBlocks[0]!;
    const remote = (secret: Uint8Array) => {
      const local = localStaticKey(secret, crypto);
      return { publicKey: local.publicKey, ecdh: async (point: Uint8Array) => local.ecdh(point) };
    };
    const initiator = new NoiseInitiator({
      crypto,
      staticKey: remote(field(initiatorBlock, 'ls.priv')),
      remoteStaticKey: field(initiatorBlock, 'rs.pub'),
      ephemeralSecret: field(initiatorBlock, 'e.priv'),
    });
    const responder = new NoiseResponder({ crypto, staticKey: remote(field(responderBlock, 'ls.priv')), ephemeralSecret: field(responderBlock, 'e.priv') });
    const act2Pending = responder.processAct1(initiator.createAct1());
    t.true(act2Pending instanceof Promise);
    const act2 = await act2Pending;
    t.is(toHex(act2), toHex(hex(responderBlock.steps[1]!.value)));
    const { act3, result } = await initiator.processAct2(act2);
    t.is(toHex(act3), toHex(hex(initiatorBlock.steps[2]!.value)));
    const responderResult = responder.processAct3(act3);
    t.deepEqual(responderResult.handshakeHash, result.handshakeHash);
  });
}
