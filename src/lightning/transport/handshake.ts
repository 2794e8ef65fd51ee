import { CryptoError, type CryptoProvider } from '../crypto/index.js';
import { CipherState } from './cipher-state.js';
import { TransportError } from './errors.js';
import { hkdf2 } from './hkdf.js';
import { encodeNonce } from './nonce.js';
import type { StaticKey } from './static-key.js';

/** Sizes of the three handshake acts on the wire. */
export const ACT1_LENGTH = 50;
export const ACT2_LENGTH = 50;
export const ACT3_LENGTH = 66;

const PROTOCOL_NAME = new TextEncoder().encode('Noise_XK_secp256k1_ChaChaPoly_SHA256');
const PROLOGUE = new TextEncoder().encode('lightning');
const HANDSHAKE_VERSION = 0;
const EMPTY = new Uint8Array(0);

/** A value that is synchronous when the StaticKey is local, a promise when its ECDH is remote. */
export type MaybePromise<T> = T | Promise<T>;

/** What a completed handshake yields: who the peer is and one cipher state per direction. */
export interface HandshakeResult {
  /** The peer's 33-byte static public key (its node id). */
  readonly remoteStaticKey: Uint8Array;
  /** Encrypts what we send. */
  readonly sendCipher: CipherState;
  /** Decrypts what we receive. */
  readonly receiveCipher: CipherState;
  /** The final handshake hash `h`: a channel binding both sides agree on. */
  readonly handshakeHash: Uint8Array;
}

export interface InitiatorOptions {
  readonly crypto: CryptoProvider;
  readonly staticKey: StaticKey;
  /** The responder's node id (33 bytes); the initiator must know it in advance (XK). */
  readonly remoteStaticKey: Uint8Array;
  /** Fixed ephemeral secret, for the BOLT 8 test vectors only; random otherwise. */
  readonly ephemeralSecret?: Uint8Array;
}

export interface ResponderOptions {
  readonly crypto: CryptoProvider;
  readonly staticKey: StaticKey;
  /** Fixed ephemeral secret, for the BOLT 8 test vectors only; random otherwise. */
  readonly ephemeralSecret?: Uint8Array;
}

/**
 * `ck = SHA-256(protocolName)`, `h = SHA-256(SHA-256(ck || prologue) || responder static key)`: the same
 * for every handshake with one responder key, so the last one is kept (a node answers with one key).
 */
let lastInitial: { crypto: CryptoProvider; key: Uint8Array; chainingKey: Uint8Array; hash: Uint8Array } | undefined;

function initialState(crypto: CryptoProvider, responderStaticKey: Uint8Array): { chainingKey: Uint8Array; hash: Uint8Array } {
  const cached = lastInitial;
  if (cached && cached.crypto === crypto && sameBytes(cached.key, responderStaticKey)) return cached;
  const chainingKey = crypto.sha256(PROTOCOL_NAME);
  const withPrologue = crypto.sha256(concat([chainingKey, PROLOGUE]));
  const hash = crypto.sha256(concat([withPrologue, responderStaticKey]));
  lastInitial = { crypto, key: responderStaticKey.slice(), chainingKey, hash };
  return lastInitial;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The Noise symmetric state shared by both roles: chaining key `ck`, handshake hash `h`, current temp key. */
class SymmetricState {
  chainingKey: Uint8Array;
  hash: Uint8Array;
  tempKey: Uint8Array = EMPTY;

  constructor(
    readonly crypto: CryptoProvider,
    responderStaticKey: Uint8Array,
  ) {
    const initial = initialState(crypto, responderStaticKey);
    this.chainingKey = initial.chainingKey;
    this.hash = initial.hash;
  }

  mixHash(data: Uint8Array): void {
    const joined = new Uint8Array(this.hash.length + data.length);
    joined.set(this.hash, 0);
    joined.set(data, this.hash.length);
    this.hash = this.crypto.sha256(joined);
  }

  mixKey(sharedSecret: Uint8Array): void {
    [this.chainingKey, this.tempKey] = hkdf2(this.crypto, this.chainingKey, sharedSecret);
  }

  /** `mix` false for act 3's final tag: BOLT 8 does not hash it, so `h` stays the spec's final value. */
  encryptAndHash(nonce: number, plaintext: Uint8Array, mix = true): Uint8Array {
    const sealed = this.crypto.aeadEncrypt(this.tempKey, encodeNonce(nonce), this.hash, plaintext);
    if (mix) this.mixHash(sealed);
    return sealed;
  }

  decryptAndHash(nonce: number, sealed: Uint8Array, act: 1 | 2 | 3, mix = true): Uint8Array {
    let plaintext: Uint8Array;
    try {
      plaintext = this.crypto.aeadDecrypt(this.tempKey, encodeNonce(nonce), this.hash, sealed);
    } catch (error) {
      throw new TransportError('bad-mac', `act ${act}: authentication failed`, { act, cause: error });
    }
    if (mix) this.mixHash(sealed);
    return plaintext;
  }

  /** Final split: the initiator sends with the first key, the responder with the second. */
  split(): [Uint8Array, Uint8Array] {
    return hkdf2(this.crypto, this.chainingKey, EMPTY);
  }
}

function checkAct(act: Uint8Array, length: number, which: 1 | 2 | 3): void {
  if (!(act instanceof Uint8Array) || act.length !== length) {
    throw new TransportError('bad-length', `act ${which} must be ${length} bytes`, { act: which });
  }
  if (act[0] !== HANDSHAKE_VERSION) {
    throw new TransportError('bad-version', `act ${which}: unknown handshake version ${act[0]}`, { act: which });
  }
}

function ecdhOrBadKey(crypto: CryptoProvider, secret: Uint8Array, point: Uint8Array, act: 1 | 2 | 3): Uint8Array {
  try {
    return crypto.ecdh(secret, point);
  } catch (error) {
    throw new TransportError('bad-key', `act ${act}: invalid public key`, { act, cause: error });
  }
}

function checkPoint(crypto: CryptoProvider, point: Uint8Array, act: 1 | 2 | 3, what: string): void {
  if (!crypto.isValidPublicKey(point)) {
    throw new TransportError('bad-key', `act ${act}: ${what} is not a valid public key`, { act });
  }
}

/** Runs the StaticKey's ECDH and validates its answer, keeping the synchronous path synchronous. */
function staticEcdh<T>(staticKey: StaticKey, point: Uint8Array, act: 1 | 2 | 3, then: (shared: Uint8Array) => T): MaybePromise<T> {
  const checked = (shared: unknown): T => {
    if (!(shared instanceof Uint8Array) || shared.length !== 32) {
      throw new TransportError('static-key-failed', `act ${act}: static-key ECDH did not return 32 bytes`, { act });
    }
    return then(shared);
  };
  const wrapFailure = (error: unknown): never => {
    if (error instanceof TransportError) throw error;
    if (error instanceof CryptoError && error.code === 'bad-point') {
      throw new TransportError('bad-key', `act ${act}: invalid public key`, { act, cause: error });
    }
    throw new TransportError('static-key-failed', `act ${act}: static-key ECDH failed`, { act, cause: error });
  };
  let shared: Uint8Array | Promise<Uint8Array>;
  try {
    shared = staticKey.ecdh(point);
  } catch (error) {
    return wrapFailure(error);
  }
  if (shared instanceof Promise) return shared.then(checked, wrapFailure);
  return checked(shared);
}

function makeEphemeral(crypto: CryptoProvider, fixed: Uint8Array | undefined): { secret: Uint8Array; publicKey: Uint8Array } {
  const secret = fixed ? fixed.slice() : crypto.randomSecretKey();
  try {
    return { secret, publicKey: crypto.publicKey(secret) };
  } catch (error) {
    throw new TransportError('bad-key', 'invalid ephemeral secret key', { cause: error });
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The initiating side of Noise_XK (BOLT 8), with no I/O: `createAct1()`, then `processAct2(act2)` which
 * yields act 3 and the session. Only act 3's `se` uses the static key, so only that step can be async.
 */
export class NoiseInitiator {
  private readonly crypto: CryptoProvider;
  private readonly staticKey: StaticKey;
  private readonly remoteStaticKey: Uint8Array;
  private readonly ephemeral: { secret: Uint8Array; publicKey: Uint8Array };
  private readonly state: SymmetricState;
  private step: 'act1' | 'act2' | 'act3' | 'done' | 'failed' = 'act1';

  constructor(options: InitiatorOptions) {
    this.crypto = options.crypto;
    this.staticKey = options.staticKey;
    if (!options.crypto.isValidPublicKey(options.remoteStaticKey)) {
      throw new TransportError('bad-key', 'remote node id is not a valid public key');
    }
    this.remoteStaticKey = options.remoteStaticKey.slice();
    this.ephemeral = makeEphemeral(options.crypto, options.ephemeralSecret);
    this.state = new SymmetricState(options.crypto, this.remoteStaticKey);
  }

  /** Act 1 (50 bytes): `e, es`. */
  createAct1(): Uint8Array {
    this.expect('act1');
    try {
      this.state.mixHash(this.ephemeral.publicKey);
      this.state.mixKey(ecdhOrBadKey(this.crypto, this.ephemeral.secret, this.remoteStaticKey, 1));
      const tag = this.state.encryptAndHash(0, EMPTY);
      this.step = 'act2';
      return concat([Uint8Array.of(HANDSHAKE_VERSION), this.ephemeral.publicKey, tag]);
    } catch (error) {
      this.step = 'failed';
      throw error;
    }
  }

  /** Checks act 2 (`e, ee`) and builds act 3 (`s, se`, 66 bytes). Send act3, then use the result. */
  processAct2(act2: Uint8Array): MaybePromise<{ act3: Uint8Array; result: HandshakeResult }> {
    this.expect('act2');
    try {
      checkAct(act2, ACT2_LENGTH, 2);
      const remoteEphemeral = act2.slice(1, 34);
      // No separate point check: the ECDH below rejects an invalid point as 'bad-key' (saves a parse).
      this.state.mixHash(remoteEphemeral);
      this.state.mixKey(ecdhOrBadKey(this.crypto, this.ephemeral.secret, remoteEphemeral, 2));
      this.state.decryptAndHash(0, act2.subarray(34, 50), 2);
      const encryptedStatic = this.state.encryptAndHash(1, this.staticKey.publicKey);
      this.step = 'act3';
      const finish = (shared: Uint8Array): { act3: Uint8Array; result: HandshakeResult } => {
        this.state.mixKey(shared);
        const tag = this.state.encryptAndHash(0, EMPTY, false);
        const [sendKey, receiveKey] = this.state.split();
        this.step = 'done';
        return {
          act3: concat([Uint8Array.of(HANDSHAKE_VERSION), encryptedStatic, tag]),
          result: this.result(sendKey, receiveKey),
        };
      };
      const outcome = staticEcdh(this.staticKey, remoteEphemeral, 3, finish);
      if (outcome instanceof Promise) {
        return outcome.catch((error: unknown) => {
          this.step = 'failed';
          throw error;
        });
      }
      return outcome;
    } catch (error) {
      this.step = 'failed';
      throw error;
    }
  }

  private result(sendKey: Uint8Array, receiveKey: Uint8Array): HandshakeResult {
    return {
      remoteStaticKey: this.remoteStaticKey.slice(),
      sendCipher: new CipherState(this.crypto, sendKey, this.state.chainingKey),
      receiveCipher: new CipherState(this.crypto, receiveKey, this.state.chainingKey),
      handshakeHash: this.state.hash.slice(),
    };
  }

  private expect(step: 'act1' | 'act2'): void {
    if (this.step !== step) throw new TransportError('bad-state', `initiator: expected ${step}, state is ${this.step}`);
  }
}

/**
 * The responding side of Noise_XK (BOLT 8), with no I/O: `processAct1(act1)` yields act 2, then
 * `processAct3(act3)` yields the session. Only act 1's `es` uses the static key, so only that step can
 * be async.
 */
export class NoiseResponder {
  private readonly crypto: CryptoProvider;
  private readonly staticKey: StaticKey;
  private readonly ephemeralSecret: Uint8Array | undefined;
  private readonly state: SymmetricState;
  private ephemeral: { secret: Uint8Array; publicKey: Uint8Array } | undefined;
  private step: 'act1' | 'pending' | 'act3' | 'done' | 'failed' = 'act1';

  constructor(options: ResponderOptions) {
    this.crypto = options.crypto;
    this.staticKey = options.staticKey;
    this.ephemeralSecret = options.ephemeralSecret?.slice();
    this.state = new SymmetricState(options.crypto, options.staticKey.publicKey);
  }

  /** Checks act 1 (`e, es`) and builds act 2 (`e, ee`, 50 bytes). */
  processAct1(act1: Uint8Array): MaybePromise<Uint8Array> {
    this.expect('act1');
    try {
      checkAct(act1, ACT1_LENGTH, 1);
      const remoteEphemeral = act1.slice(1, 34);
      // A remote key holder is never asked about garbage; a local key's ECDH rejects it itself.
      if (!this.staticKey.rejectsInvalidPoints) checkPoint(this.crypto, remoteEphemeral, 1, 'ephemeral key');
      this.state.mixHash(remoteEphemeral);
      this.step = 'pending';
      const outcome = staticEcdh(this.staticKey, remoteEphemeral, 1, (shared) => {
        this.state.mixKey(shared);
        this.state.decryptAndHash(0, act1.subarray(34, 50), 1);
        return this.createAct2(remoteEphemeral);
      });
      if (outcome instanceof Promise) {
        return outcome.catch((error: unknown) => {
          this.step = 'failed';
          throw error;
        });
      }
      return outcome;
    } catch (error) {
      this.step = 'failed';
      throw error;
    }
  }

  /** Checks act 3 (`s, se`) and completes the handshake. */
  processAct3(act3: Uint8Array): HandshakeResult {
    this.expect('act3');
    try {
      checkAct(act3, ACT3_LENGTH, 3);
      const ephemeral = this.ephemeral!;
      const remoteStatic = this.state.decryptAndHash(1, act3.subarray(1, 50), 3);
      // The ECDH rejects an invalid static key as 'bad-key'.
      this.state.mixKey(ecdhOrBadKey(this.crypto, ephemeral.secret, remoteStatic, 3));
      this.state.decryptAndHash(0, act3.subarray(50, 66), 3, false);
      const [receiveKey, sendKey] = this.state.split();
      this.step = 'done';
      return {
        remoteStaticKey: remoteStatic.slice(),
        sendCipher: new CipherState(this.crypto, sendKey, this.state.chainingKey),
        receiveCipher: new CipherState(this.crypto, receiveKey, this.state.chainingKey),
        handshakeHash: this.state.hash.slice(),
      };
    } catch (error) {
      this.step = 'failed';
      throw error;
    }
  }

  private createAct2(remoteEphemeral: Uint8Array): Uint8Array {
    const ephemeral = makeEphemeral(this.crypto, this.ephemeralSecret);
    this.ephemeral = ephemeral;
    this.state.mixHash(ephemeral.publicKey);
    this.state.mixKey(ecdhOrBadKey(this.crypto, ephemeral.secret, remoteEphemeral, 2));
    const tag = this.state.encryptAndHash(0, EMPTY);
    this.step = 'act3';
    return concat([Uint8Array.of(HANDSHAKE_VERSION), ephemeral.publicKey, tag]);
  }

  private expect(step: 'act1' | 'act3'): void {
    if (this.step !== step) throw new TransportError('bad-state', `responder: expected ${step}, state is ${this.step}`);
  }
}
