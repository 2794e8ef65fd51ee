import test from 'ava';
import { randomBytes } from 'node:crypto';
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
