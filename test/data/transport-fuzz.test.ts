// Hostile input for the BOLT 8 state machines and the frame decoder: Core Lightning's fuzz corpora for
// each handshake act and for encrypted messages, then seeded random mutations of valid acts. Each input
// must return or throw TransportError, nothing else, and finish in bounded time (no hang).
import test, { type ExecutionContext } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createNativeCrypto, loadNativeSecp256k1, nobleCrypto, type CryptoProvider } from '../../src/lightning/crypto/index.js';
import {
  ACT1_LENGTH,
  ACT2_LENGTH,
  ACT3_LENGTH,
  CipherState,
  encryptFrame,
  FrameDecoder,
  localStaticKey,
  MAX_MESSAGE_LENGTH,
  NoiseInitiator,
  NoiseResponder,
  TransportError,
} from '../../src/lightning/transport/index.js';

const FUZZ = path.resolve(process.cwd(), '../shared/data/gossip/fuzz-corpora-cln');
/** CLN's handshake harnesses start each input with a 32-byte seed for their RNG; the act follows. */
const SEED_LENGTH = 32;
/** A hang detector, not a performance bound: one input taking this long means something loops. */
const MAX_MS_PER_INPUT = 2000;

const nativeBindings = loadNativeSecp256k1();
const providers: CryptoProvider[] = nativeBindings ? [createNativeCrypto(nativeBindings), nobleCrypto] : [nobleCrypto];

function corpus(name: string): Uint8Array[] {
  const dir = path.join(FUZZ, name);
  return readdirSync(dir)
    .sort()
    .map((file) => new Uint8Array(readFileSync(path.join(dir, file))));
}

/** The act as CLN's harness reads it, plus the raw file: both must be handled. */
function actCandidates(file: Uint8Array, actLength: number): Uint8Array[] {
  const candidates = [file];
  if (file.length >= SEED_LENGTH + actLength) candidates.push(file.subarray(SEED_LENGTH, SEED_LENGTH + actLength));
  return candidates;
}

interface Tally {
  accepted: number;
  rejected: Record<string, number>;
}

/** Runs one input: a return or a TransportError is fine; anything else, or a slow run, fails the test. */
async function attempt(t: ExecutionContext, tally: Tally, label: string, run: () => unknown): Promise<void> {
  const started = performance.now();
  try {
    await run();
    tally.accepted++;
  } catch (error) {
    if (!(error instanceof TransportError)) {
      t.fail(`${label}: threw ${String(error)}`);
      return;
    }
    tally.rejected[error.code] = (tally.rejected[error.code] ?? 0) + 1;
  }
  const elapsed = performance.now() - started;
  if (elapsed > MAX_MS_PER_INPUT) t.fail(`${label}: took ${elapsed.toFixed(0)} ms`);
}

function keys(crypto: CryptoProvider) {
  return {
    responderKey: localStaticKey(new Uint8Array(32).fill(0x21), crypto),
    initiatorKey: localStaticKey(new Uint8Array(32).fill(0x11), crypto),
  };
}

for (const crypto of providers) {
  test(`[${crypto.name}] fuzz-connectd-handshake-act1: the responder returns act 2 or a typed error`, async (t) => {
    const { responderKey } = keys(crypto);
    const files = corpus('fuzz-connectd-handshake-act1');
    const tally: Tally = { accepted: 0, rejected: {} };
    for (const [index, file] of files.entries()) {
      for (const act of actCandidates(file, ACT1_LENGTH)) {
        await attempt(t, tally, `act1 #${index}`, () => new NoiseResponder({ crypto, staticKey: responderKey }).processAct1(act));
      }
    }
    t.log(files.length, 'files', JSON.stringify(tally));
    t.true(files.length > 20);
    t.true(Object.keys(tally.rejected).length > 0);
  });

  test(`[${crypto.name}] fuzz-connectd-handshake-act2: the initiator returns act 3 or a typed error`, async (t) => {
    const { responderKey, initiatorKey } = keys(crypto);
    const files = corpus('fuzz-connectd-handshake-act2');
    const tally: Tally = { accepted: 0, rejected: {} };
    for (const [index, file] of files.entries()) {
      for (const act of actCandidates(file, ACT2_LENGTH)) {
        await attempt(t, tally, `act2 #${index}`, () => {
          const initiator = new NoiseInitiator({ crypto, staticKey: initiatorKey, remoteStaticKey: responderKey.publicKey });
          initiator.createAct1();
          return initiator.processAct2(act);
        });
      }
    }
    t.log(files.length, 'files', JSON.stringify(tally));
    t.true(files.length > 200);
    t.is(tally.accepted, 0, 'no forged act 2 can authenticate against a fresh ephemeral key');
  });

  test(`[${crypto.name}] fuzz-connectd-handshake-act3: the responder completes or fails with a typed error`, async (t) => {
    const { responderKey, initiatorKey } = keys(crypto);
    const files = corpus('fuzz-connectd-handshake-act3');
    const tally: Tally = { accepted: 0, rejected: {} };
    for (const [index, file] of files.entries()) {
      for (const act of actCandidates(file, ACT3_LENGTH)) {
        const initiator = new NoiseInitiator({ crypto, staticKey: initiatorKey, remoteStaticKey: responderKey.publicKey });
        const responder = new NoiseResponder({ crypto, staticKey: responderKey });
        await responder.processAct1(initiator.createAct1());
        await attempt(t, tally, `act3 #${index}`, () => responder.processAct3(act));
      }
    }
    t.log(files.length, 'files', JSON.stringify(tally));
    t.true(files.length > 100);
    t.is(tally.accepted, 0);
  });

  test(`[${crypto.name}] fuzz-cryptomsg: round-trips, and raw bytes fed to the decoder fail only with bad-mac`, async (t) => {
    const files = corpus('fuzz-cryptomsg');
    const key = new Uint8Array(32).fill(0x96);
    const chainingKey = new Uint8Array(32).fill(0x91);
    const tally: Tally = { accepted: 0, rejected: {} };
    for (const [index, file] of files.entries()) {
      // As CLN's harness: encrypt then decrypt is the identity.
      if (file.length <= MAX_MESSAGE_LENGTH) {
        const frame = encryptFrame(new CipherState(crypto, key, chainingKey), file);
        t.deepEqual(new FrameDecoder(new CipherState(crypto, key, chainingKey)).pushAll(frame), [file], `round trip #${index}`);
      }
      // Arbitrary bytes as a stream: whole, and one byte at a time (bounded buffer either way).
      await attempt(t, tally, `stream #${index}`, () => new FrameDecoder(new CipherState(crypto, key, chainingKey)).pushAll(file));
      await attempt(t, tally, `bytewise #${index}`, () => {
        const decoder = new FrameDecoder(new CipherState(crypto, key, chainingKey));
        for (let i = 0; i < file.length; i++) {
          decoder.pushAll(file.subarray(i, i + 1));
          if (decoder.bufferedBytes > 18 + MAX_MESSAGE_LENGTH + 16) throw new Error('decoder buffered more than one frame');
        }
      });
      // Arbitrary bytes as one sealed body.
      await attempt(t, tally, `body #${index}`, () => new CipherState(crypto, key, chainingKey).decrypt(file));
    }
    t.log(files.length, 'files', JSON.stringify(tally));
    t.deepEqual(Object.keys(tally.rejected), ['bad-mac']);
  });
}

/** Deterministic PRNG so a failing mutation can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

function mutate(valid: Uint8Array, random: () => number): Uint8Array {
  const choice = random();
  if (choice < 0.1) return valid.subarray(0, Math.floor(random() * valid.length)); // truncated
  if (choice < 0.15) return Uint8Array.from([...valid, Math.floor(random() * 256)]); // extended
  const out = valid.slice();
  const flips = 1 + Math.floor(random() * 3);
  for (let i = 0; i < flips; i++) out[Math.floor(random() * out.length)] ^= 1 << Math.floor(random() * 8);
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

for (const crypto of providers) {
  const rounds = crypto.name === 'native' ? 300 : 60;
  test(`[${crypto.name}] ${rounds} random mutations of each valid act are all rejected with a typed error`, async (t) => {
    const { responderKey, initiatorKey } = keys(crypto);
    const random = prng(0xb0178);
    const tally: Record<string, Tally> = {};
    for (let round = 0; round < rounds; round++) {
      const initiatorSecret = crypto.randomSecretKey();
      const responderSecret = crypto.randomSecretKey();
      const fresh = () => ({
        initiator: new NoiseInitiator({ crypto, staticKey: initiatorKey, remoteStaticKey: responderKey.publicKey, ephemeralSecret: initiatorSecret }),
        responder: new NoiseResponder({ crypto, staticKey: responderKey, ephemeralSecret: responderSecret }),
      });
      const reference = fresh();
      const act1 = reference.initiator.createAct1();
      const act2 = await reference.responder.processAct1(act1);
      const { act3 } = await reference.initiator.processAct2(act2);

      for (const [name, valid] of [['act1', act1], ['act2', act2], ['act3', act3]] as const) {
        const mutated = mutate(valid, random);
        if (same(mutated, valid)) continue;
        const { initiator, responder } = fresh();
        const entry = (tally[name] ??= { accepted: 0, rejected: {} });
        await attempt(t, entry, `${name} round ${round}`, async () => {
          if (name === 'act1') return responder.processAct1(mutated);
          if (name === 'act2') {
            initiator.createAct1();
            return initiator.processAct2(mutated);
          }
          await responder.processAct1(initiator.createAct1());
          return responder.processAct3(mutated);
        });
      }
    }
    t.log(JSON.stringify(tally));
    for (const name of ['act1', 'act2', 'act3']) t.is(tally[name]?.accepted, 0, `${name}: a mutated act was accepted`);
  });
}
