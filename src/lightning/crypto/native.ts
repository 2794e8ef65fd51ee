import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { assertBytes, CryptoError, type CryptoProvider } from './provider.js';
import { openShort, sealShort, SHORT_AEAD_LIMIT } from './chacha20-poly1305-short.js';
import { hmacSha256Short, sha256Short, SHORT_INPUT_LIMIT } from './sha256-short.js';

interface Secp256k1Bindings {
  privateKeyVerify(key: Uint8Array): boolean;
  publicKeyCreate(key: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyVerify(key: Uint8Array): boolean;
  publicKeyConvert(key: Uint8Array, compressed: boolean): Uint8Array;
  ecdh(pub: Uint8Array, priv: Uint8Array): Uint8Array;
  ecdsaSign(digest: Uint8Array, priv: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(sig: Uint8Array, digest: Uint8Array, pub: Uint8Array): boolean;
}

/**
 * Loads the native libsecp256k1 bindings. `secp256k1/bindings` is the compiled addon only: the package's
 * main entry silently falls back to a slow pure-JS `elliptic` build, which would defeat the purpose.
 * Returns undefined when the addon is missing (no prebuild, no compiler), so callers fall back to noble.
 */
export function loadNativeSecp256k1(): Secp256k1Bindings | undefined {
  try {
    const require = createRequire(import.meta.url);
    const bindings = require('secp256k1/bindings') as Secp256k1Bindings;
    const raw = loadRawAddon(require);
    if (raw) RAW_ADDONS.set(bindings, raw);
    return bindings;
  } catch {
    return undefined;
  }
}

/**
 * The addon under `secp256k1/bindings` without its JS argument-checking layer: verify returns 0 for a good
 * signature (1, 2, 3: bad signature encoding, bad key, does not verify). We check lengths ourselves, so
 * the layer only costs time on the gossip hot path (~2% of a verification).
 */
interface RawSecp256k1 {
  ecdsaVerify(sig: Uint8Array, digest: Uint8Array, pub: Uint8Array): number;
}

const RAW_ADDONS = new WeakMap<Secp256k1Bindings, RawSecp256k1>();

function loadRawAddon(require: NodeJS.Require): RawSecp256k1 | undefined {
  try {
    const packageJson = require.resolve('secp256k1/package.json');
    const fromPackage = createRequire(packageJson);
    const build = fromPackage('node-gyp-build') as (dir: string) => { Secp256k1: new () => RawSecp256k1 };
    const raw = new (build(packageJson.slice(0, -'/package.json'.length)).Secp256k1)();
    return typeof raw.ecdsaVerify === 'function' ? raw : undefined;
  } catch {
    return undefined;
  }
}

type OneShotHash = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer;
/** node:crypto's one-shot `hash()` (Node >= 20.12): about 1.5x faster than createHash for small inputs. */
const oneShotHash = (nodeCrypto as unknown as { hash?: OneShotHash }).hash;
const nodeSha256 = oneShotHash
  ? (data: Uint8Array): Uint8Array => plainView(oneShotHash('sha256', data, 'buffer'))
  : (data: Uint8Array): Uint8Array => plainView(createHash('sha256').update(data).digest());
/** Short inputs (handshakes, gossip digests) in JS, long ones through node:crypto: see sha256-short.ts. */
const sha256 = (data: Uint8Array): Uint8Array => (data.length <= SHORT_INPUT_LIMIT ? sha256Short(data) : nodeSha256(data));
const hmacSha256 = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  data.length <= SHORT_INPUT_LIMIT && key.length <= SHORT_INPUT_LIMIT ? hmacSha256Short(key, data) : plainView(createHmac('sha256', key).update(data).digest());

/**
 * A plain Uint8Array over a Buffer's bytes, without copying them. Copying (`new Uint8Array(buffer)`)
 * allocates a fresh ArrayBuffer, which costs more than the hash itself for 32-byte digests: about 2 µs
 * per call, a tenth of a BOLT 8 handshake's non-EC time. A plain Uint8Array (not the Buffer) keeps
 * `slice()` a copy, as callers expect.
 */
function plainView(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** Random bytes drawn 4 KiB at a time: one syscall-backed call per 128 secret keys instead of one per key. */
class RandomPool {
  #pool = new Uint8Array(0);
  #offset = 0;
  take(length: number): Uint8Array {
    if (this.#offset + length > this.#pool.length) {
      this.#pool = new Uint8Array(randomBytes(4096));
      this.#offset = 0;
    }
    // A copy: the caller owns its key, and used pool bytes are wiped so no key lingers in the pool.
    const out = this.#pool.slice(this.#offset, this.#offset + length);
    this.#pool.fill(0, this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }
}

const TAG_LENGTH = 16;

/**
 * Gossip verifies the same few thousand node keys again and again (every channel_update of a node is
 * signed by its one key). libsecp256k1 must decompress a 33-byte key (a field square root, ~5 µs)
 * before each verification, but takes a 65-byte uncompressed key almost for free: this keeps the
 * uncompressed form of keys that recur, which makes their verifications about 10% cheaper.
 * A key is converted on its second sighting only: the bitcoin keys of channel_announcements appear
 * once each and would otherwise cost a conversion and push the node keys out. Both maps are bounded;
 * the oldest entry goes first (a Map iterates in insertion order).
 */
class UncompressedKeyCache {
  readonly #uncompressed = new Map<string, Uint8Array>();
  readonly #seenOnce = new Set<string>();
  constructor(
    private readonly capacity: number,
    private readonly convert: (key: Uint8Array) => Uint8Array,
  ) {}

  /** The 65-byte form of a recurring 33-byte key, or the key itself (first sighting, or invalid). */
  get(compressed: Uint8Array): Uint8Array {
    const id = Buffer.from(compressed.buffer, compressed.byteOffset, compressed.length).toString('latin1');
    const hit = this.#uncompressed.get(id);
    if (hit) return hit;
    if (!this.#seenOnce.has(id)) {
      if (this.#seenOnce.size >= this.capacity) this.#seenOnce.delete(this.#seenOnce.values().next().value!);
      this.#seenOnce.add(id);
      return compressed;
    }
    let uncompressed: Uint8Array;
    try {
      uncompressed = this.convert(compressed);
    } catch {
      return compressed; // not a point: the verification itself will say no
    }
    this.#seenOnce.delete(id);
    if (this.#uncompressed.size >= this.capacity) this.#uncompressed.delete(this.#uncompressed.keys().next().value!);
    this.#uncompressed.set(id, uncompressed);
    return uncompressed;
  }
}

/** Enough for every node of today's public graph (~15k nodes), at ~150 bytes an entry. */
const UNCOMPRESSED_KEY_CACHE_ENTRIES = 32_768;

export function createNativeCrypto(secp: Secp256k1Bindings): CryptoProvider {
  const raw = RAW_ADDONS.get(secp);
  const random = new RandomPool();
  const keys = new UncompressedKeyCache(UNCOMPRESSED_KEY_CACHE_ENTRIES, (key) => secp.publicKeyConvert(key, false));
  const ecdsaVerify = raw
    ? (sig: Uint8Array, digest: Uint8Array, pub: Uint8Array) => raw.ecdsaVerify(sig, digest, keys.get(pub)) === 0
    : (sig: Uint8Array, digest: Uint8Array, pub: Uint8Array) => secp.ecdsaVerify(sig, digest, keys.get(pub));
  return {
    name: 'native',
    randomSecretKey() {
      for (;;) {
        const key = random.take(32);
        if (secp.privateKeyVerify(key)) return key;
      }
    },
    publicKey(secretKey) {
      assertBytes(secretKey, 32, 'secret key');
      try {
        return secp.publicKeyCreate(secretKey, true);
      } catch {
        throw new CryptoError('bad-key', 'invalid secret key');
      }
    },
    isValidPublicKey(publicKey) {
      return publicKey instanceof Uint8Array && publicKey.length === 33 && secp.publicKeyVerify(publicKey);
    },
    ecdh(secretKey, publicKey) {
      assertBytes(secretKey, 32, 'secret key');
      assertBytes(publicKey, 33, 'public key');
      try {
        // libsecp256k1's default ECDH hash is SHA-256 of the compressed point: exactly BOLT 8's.
        return secp.ecdh(publicKey, secretKey);
      } catch {
        throw new CryptoError('bad-point', 'invalid public key for ECDH');
      }
    },
    sign(digest32, secretKey) {
      assertBytes(digest32, 32, 'digest');
      assertBytes(secretKey, 32, 'secret key');
      try {
        return secp.ecdsaSign(digest32, secretKey).signature;
      } catch {
        throw new CryptoError('bad-key', 'invalid secret key');
      }
    },
    verify(signature64, digest32, publicKey) {
      if (!(signature64 instanceof Uint8Array) || !(digest32 instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
      if (signature64.length !== 64 || digest32.length !== 32 || publicKey.length !== 33) return false;
      try {
        return ecdsaVerify(signature64, digest32, publicKey);
      } catch {
        return false;
      }
    },
    sha256,
    hmacSha256,
    aeadEncrypt(key32, nonce12, ad, plaintext) {
      assertBytes(key32, 32, 'key');
      assertBytes(nonce12, 12, 'nonce');
      if (plaintext.length <= SHORT_AEAD_LIMIT) return sealShort(key32, nonce12, ad, plaintext);
      const cipher = createCipheriv('chacha20-poly1305', key32, nonce12, { authTagLength: TAG_LENGTH });
      cipher.setAAD(ad, { plaintextLength: plaintext.length });
      const head = cipher.update(plaintext);
      cipher.final();
      const out = new Uint8Array(head.length + TAG_LENGTH);
      out.set(head, 0);
      out.set(cipher.getAuthTag(), head.length);
      return out;
    },
    aeadDecrypt(key32, nonce12, ad, sealed) {
      assertBytes(key32, 32, 'key');
      assertBytes(nonce12, 12, 'nonce');
      if (sealed.length < TAG_LENGTH) throw new CryptoError('bad-mac', 'ciphertext shorter than its tag');
      if (sealed.length - TAG_LENGTH <= SHORT_AEAD_LIMIT) {
        const opened = openShort(key32, nonce12, ad, sealed);
        if (!opened) throw new CryptoError('bad-mac', 'ChaCha20-Poly1305 authentication failed');
        return opened;
      }
      const body = sealed.subarray(0, sealed.length - TAG_LENGTH);
      const decipher = createDecipheriv('chacha20-poly1305', key32, nonce12, { authTagLength: TAG_LENGTH });
      decipher.setAAD(ad, { plaintextLength: body.length });
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
      const head = decipher.update(body);
      try {
        decipher.final();
      } catch {
        throw new CryptoError('bad-mac', 'ChaCha20-Poly1305 authentication failed');
      }
      return plainView(head);
    },
  };
}
