import * as secp from '@noble/secp256k1';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { assertBytes, CryptoError, type CryptoProvider } from './provider.js';

// noble-secp256k1 v3 ships without hashes to stay dependency-free; its sync API needs them.
secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (key: Uint8Array, msg: Uint8Array) => hmac(sha256, key, msg);

const NO_PREHASH = { prehash: false } as const;

export const nobleCrypto: CryptoProvider = {
  name: 'noble',
  randomSecretKey: () => secp.utils.randomSecretKey(),
  publicKey(secretKey) {
    assertBytes(secretKey, 32, 'secret key');
    try {
      return secp.getPublicKey(secretKey, true);
    } catch {
      throw new CryptoError('bad-key', 'invalid secret key');
    }
  },
  isValidPublicKey(publicKey) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 33) return false;
    try {
      secp.Point.fromBytes(publicKey);
      return true;
    } catch {
      return false;
    }
  },
  ecdh(secretKey, publicKey) {
    assertBytes(secretKey, 32, 'secret key');
    assertBytes(publicKey, 33, 'public key');
    let shared: Uint8Array;
    try {
      shared = secp.getSharedSecret(secretKey, publicKey, true);
    } catch {
      throw new CryptoError('bad-point', 'invalid public key for ECDH');
    }
    return sha256(shared);
  },
  sign(digest32, secretKey) {
    assertBytes(digest32, 32, 'digest');
    assertBytes(secretKey, 32, 'secret key');
    // extraEntropy false: RFC 6979 deterministic, same bytes as libsecp256k1's default.
    return secp.sign(digest32, secretKey, { ...NO_PREHASH, extraEntropy: false });
  },
  verify(signature64, digest32, publicKey) {
    if (signature64?.length !== 64 || digest32?.length !== 32 || publicKey?.length !== 33) return false;
    try {
      // libsecp256k1 rejects high-s signatures; noble must too so both providers agree.
      return secp.verify(signature64, digest32, publicKey, { ...NO_PREHASH, lowS: true });
    } catch {
      return false;
    }
  },
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  aeadEncrypt(key32, nonce12, ad, plaintext) {
    assertBytes(key32, 32, 'key');
    assertBytes(nonce12, 12, 'nonce');
    return chacha20poly1305(key32, nonce12, ad).encrypt(plaintext);
  },
  aeadDecrypt(key32, nonce12, ad, sealed) {
    assertBytes(key32, 32, 'key');
    assertBytes(nonce12, 12, 'nonce');
    if (sealed.length < 16) throw new CryptoError('bad-mac', 'ciphertext shorter than its tag');
    try {
      return chacha20poly1305(key32, nonce12, ad).decrypt(sealed);
    } catch {
      throw new CryptoError('bad-mac', 'ChaCha20-Poly1305 authentication failed');
    }
  },
};
