import test from 'ava';
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { openShort, sealShort } from '../src/lightning/crypto/chacha20-poly1305-short.js';
import { hmacSha256Short, sha256Short } from '../src/lightning/crypto/sha256-short.js';
import { CryptoError, createNativeCrypto, loadNativeSecp256k1, nobleCrypto, type CryptoProvider } from '../src/lightning/crypto/index.js';

const nativeBindings = loadNativeSecp256k1();
test('native libsecp256k1 addon loads on this machine', (t) => {
  t.truthy(nativeBindings, 'secp256k1/bindings did not load: the fast provider is unavailable');
});
const native: CryptoProvider = createNativeCrypto(nativeBindings!);
const providers = [native, nobleCrypto];
const bytes = (n: number) => new Uint8Array(randomBytes(n));

test('native and noble agree on public keys, ECDH and signatures for random inputs', (t) => {
  for (let i = 0; i < 50; i++) {
    const a = nobleCrypto.randomSecretKey();
    const b = native.randomSecretKey();
    const pubA = native.publicKey(a);
    t.deepEqual(nobleCrypto.publicKey(a), pubA);
    const pubB = nobleCrypto.publicKey(b);
    t.deepEqual(native.ecdh(a, pubB), nobleCrypto.ecdh(a, pubB));
    t.deepEqual(native.ecdh(a, pubB), native.ecdh(b, pubA));
    const digest = bytes(32);
    const sigNative = native.sign(digest, a);
    t.deepEqual(nobleCrypto.sign(digest, a), sigNative, 'RFC 6979 signatures must be identical');
    t.true(nobleCrypto.verify(sigNative, digest, pubA));
    t.true(native.verify(sigNative, digest, pubA));
    const flipped = sigNative.slice();
    flipped[10]! ^= 1;
    t.false(native.verify(flipped, digest, pubA));
    t.false(nobleCrypto.verify(flipped, digest, pubA));
  }
});

test('native and noble agree on ChaCha20-Poly1305, SHA-256 and HMAC', (t) => {
  for (const size of [0, 1, 64, 1024, 65535]) {
    const key = bytes(32), nonce = bytes(12), ad = bytes(size % 40), pt = bytes(size);
    const sealed = native.aeadEncrypt(key, nonce, ad, pt);
    t.deepEqual(nobleCrypto.aeadEncrypt(key, nonce, ad, pt), sealed);
    t.deepEqual(nobleCrypto.aeadDecrypt(key, nonce, ad, sealed), pt);
    t.deepEqual(native.aeadDecrypt(key, nonce, ad, sealed), pt);
    t.deepEqual(native.sha256(pt), nobleCrypto.sha256(pt));
    t.deepEqual(native.hmacSha256(key, pt), nobleCrypto.hmacSha256(key, pt));
  }
});

test('the short-input SHA-256 and HMAC match node:crypto at every padding boundary', (t) => {
  // Lengths around the one-block/two-block padding edges (55, 56, 64, 119, 120), and long inputs.
  const lengths = [...Array.from({ length: 130 }, (_, i) => i), 200, 511, 512, 513, 1000, 4096];
  for (const length of lengths) {
    const data = bytes(length);
    t.deepEqual(sha256Short(data), new Uint8Array(createHash('sha256').update(data).digest()), `sha256 of ${length} bytes`);
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      const key = bytes(keyLength);
      t.deepEqual(hmacSha256Short(key, data), new Uint8Array(createHmac('sha256', key).update(data).digest()), `hmac ${keyLength}/${length}`);
    }
  }
  // Buffer and plain Uint8Array inputs of the same bytes give the same digest (the scratch copy handles both).
  const buffer = randomBytes(77);
  t.deepEqual(sha256Short(buffer), sha256Short(new Uint8Array(buffer)));
  // FIPS 180-2 example: SHA-256("abc").
  t.is(Buffer.from(sha256Short(new TextEncoder().encode('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('the short-message ChaCha20-Poly1305 matches node:crypto byte for byte, and refuses every altered bit', (t) => {
  const nodeSeal = (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array => {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    cipher.setAAD(ad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    cipher.final();
    return new Uint8Array(Buffer.concat([head, cipher.getAuthTag()]));
  };
  const adLengths = [0, 1, 15, 16, 17, 32, 33];
  // Every length across several keystream blocks and Poly1305 paddings, random and all-0xff inputs (the
  // largest limb values the Poly1305 arithmetic must carry exactly).
  for (let length = 0; length <= 300; length++) {
    for (const saturated of [false, true]) {
      const fill = (n: number) => (saturated ? new Uint8Array(n).fill(0xff) : bytes(n));
      const key = fill(32), nonce = fill(12), ad = fill(adLengths[length % adLengths.length]!), plaintext = fill(length);
      const expected = nodeSeal(key, nonce, ad, plaintext);
      const sealed = sealShort(key, nonce, ad, plaintext);
      if (!Buffer.from(sealed).equals(expected)) return t.fail(`seal differs at ${length} bytes (saturated: ${saturated})`);
      const opened = openShort(key, nonce, ad, expected);
      if (!opened || !Buffer.from(opened).equals(plaintext)) return t.fail(`open fails at ${length} bytes`);
      const tampered = expected.slice();
      tampered[(length * 7) % tampered.length]! ^= 1 << (length % 8);
      if (openShort(key, nonce, ad, tampered) !== null) return t.fail(`a flipped bit is accepted at ${length} bytes`);
      const otherAd = ad.length > 0 ? ad.slice() : Uint8Array.of(0);
      otherAd[0]! ^= 0x80;
      if (openShort(key, nonce, otherAd, expected) !== null) return t.fail(`altered associated data is accepted at ${length} bytes`);
    }
  }
  t.is(openShort(bytes(32), bytes(12), new Uint8Array(0), bytes(15)), null, 'shorter than a tag');
  t.pass();
});

test('native verify: the uncompressed-key cache gives the same answers, bad keys stay false', (t) => {
  const secret = native.randomSecretKey();
  const publicKey = native.publicKey(secret);
  const digest = bytes(32);
  const signature = native.sign(digest, secret);
  for (let i = 0; i < 3; i++) t.true(native.verify(signature, digest, publicKey), `pass ${i}: cached key`);
  t.false(native.verify(signature, bytes(32), publicKey));
  const other = native.publicKey(native.randomSecretKey());
  t.false(native.verify(signature, digest, other));
  const notAPoint = new Uint8Array(33).fill(0xff);
  notAPoint[0] = 3;
  for (let i = 0; i < 2; i++) t.false(native.verify(signature, digest, notAPoint), 'an invalid key is never cached as valid');
  // A key that differs in its parity byte only is another point: the cache must not confuse them.
  const flippedParity = publicKey.slice();
  flippedParity[0] = publicKey[0] === 2 ? 3 : 2;
  t.false(native.verify(signature, digest, flippedParity));
});

for (const crypto of providers) {
  test(`${crypto.name}: bad inputs give typed errors or false`, (t) => {
    const key = bytes(32), nonce = bytes(12);
    const sealed = crypto.aeadEncrypt(key, nonce, new Uint8Array(), bytes(20));
    sealed[0]! ^= 1;
    const macError = t.throws(() => crypto.aeadDecrypt(key, nonce, new Uint8Array(), sealed), { instanceOf: CryptoError });
    t.is(macError?.code, 'bad-mac');
    t.throws(() => crypto.aeadDecrypt(key, nonce, new Uint8Array(), bytes(5)), { instanceOf: CryptoError });
    t.throws(() => crypto.ecdh(bytes(31), crypto.publicKey(crypto.randomSecretKey())), { instanceOf: CryptoError });
    const notAPoint = new Uint8Array(33).fill(0xff);
    notAPoint[0] = 2;
    t.false(crypto.isValidPublicKey(notAPoint));
    t.throws(() => crypto.ecdh(crypto.randomSecretKey(), notAPoint), { instanceOf: CryptoError });
    t.throws(() => crypto.publicKey(new Uint8Array(32)), { instanceOf: CryptoError });
    t.false(crypto.verify(bytes(64), bytes(32), notAPoint));
    t.false(crypto.verify(bytes(63), bytes(32), crypto.publicKey(crypto.randomSecretKey())));
  });
}
