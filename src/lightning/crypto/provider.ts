/**
 * The one crypto interface the protocol code uses. Two implementations exist:
 * - `noble`: the user's choice (@noble/secp256k1 + @noble/ciphers + @noble/hashes), pure JS, the reference.
 * - `native`: libsecp256k1 through the `secp256k1` bindings and node:crypto (about 40x faster for
 *   ECDH/ECDSA and 1.2x-15x for ChaCha20-Poly1305 on this machine class). The default when it loads.
 *   Short inputs (the usual Lightning message) skip node:crypto's fixed per-call cost through small JS
 *   implementations checked against it: sha256-short.ts and chacha20-poly1305-short.ts.
 * Both take and return Uint8Array and check byte lengths strictly (noble style).
 */
export interface CryptoProvider {
  readonly name: 'native' | 'noble';
  /** A uniformly random valid secp256k1 secret key (32 bytes). */
  randomSecretKey(): Uint8Array;
  /** 33-byte compressed public key of a 32-byte secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** True when the 33 bytes are a valid compressed point. */
  isValidPublicKey(publicKey: Uint8Array): boolean;
  /** BOLT 8 ECDH: SHA-256 of the compressed shared point. Throws CryptoError on an invalid point. */
  ecdh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** Compact (64-byte r||s, low-s) ECDSA signature of a 32-byte digest. */
  sign(digest32: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** Verifies a 64-byte compact signature over a 32-byte digest; false (never throws) on any bad input. */
  verify(signature64: Uint8Array, digest32: Uint8Array, publicKey: Uint8Array): boolean;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 (IETF, 12-byte nonce): returns ciphertext || 16-byte tag. */
  aeadEncrypt(key32: Uint8Array, nonce12: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Inverse of aeadEncrypt; throws CryptoError('bad-mac') when authentication fails. */
  aeadDecrypt(key32: Uint8Array, nonce12: Uint8Array, associatedData: Uint8Array, sealed: Uint8Array): Uint8Array;
}

export type CryptoErrorCode = 'bad-length' | 'bad-key' | 'bad-point' | 'bad-mac';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(readonly code: CryptoErrorCode, message: string) {
    super(message);
  }
}

export function assertBytes(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array)) throw new CryptoError('bad-length', `${what} must be a Uint8Array`);
  if (value.length !== length) throw new CryptoError('bad-length', `${what} must be ${length} bytes, got ${value.length}`);
}

/** Bitcoin's double SHA-256, used by gossip signatures. */
export function hash256(crypto: CryptoProvider, data: Uint8Array): Uint8Array {
  return crypto.sha256(crypto.sha256(data));
}
