import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { assertBytes, CryptoError, type CryptoProvider } from './provider.js';

interface Secp256k1Bindings {
  privateKeyVerify(key: Uint8Array): boolean;
  publicKeyCreate(key: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyVerify(key: Uint8Array): boolean;
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
    return createRequire(import.meta.url)('secp256k1/bindings') as Secp256k1Bindings;
  } catch {
    return undefined;
  }
}

const TAG_LENGTH = 16;

export function createNativeCrypto(secp: Secp256k1Bindings): CryptoProvider {
  return {
    name: 'native',
    randomSecretKey() {
      for (;;) {
        const key = new Uint8Array(randomBytes(32));
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
      if (signature64?.length !== 64 || digest32?.length !== 32 || publicKey?.length !== 33) return false;
      try {
        return secp.ecdsaVerify(signature64, digest32, publicKey);
      } catch {
        return false;
      }
    },
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
    aeadEncrypt(key32, nonce12, ad, plaintext) {
      assertBytes(key32, 32, 'key');
      assertBytes(nonce12, 12, 'nonce');
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
      return new Uint8Array(head.buffer, head.byteOffset, head.length);
    },
  };
}
