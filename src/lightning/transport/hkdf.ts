import type { CryptoProvider } from '../crypto/index.js';

const EMPTY = new Uint8Array(0);
const ONE = Uint8Array.of(1);

/**
 * BOLT 8's HKDF: RFC 5869 with SHA-256, salt = chaining key, empty info, 64 bytes of output split in two
 * 32-byte keys. Built from hmacSha256 so both crypto providers give identical bytes.
 */
export function hkdf2(crypto: CryptoProvider, salt: Uint8Array, ikm: Uint8Array = EMPTY): [Uint8Array, Uint8Array] {
  const prk = crypto.hmacSha256(salt, ikm);
  const t1 = crypto.hmacSha256(prk, ONE);
  const input2 = new Uint8Array(33);
  input2.set(t1, 0);
  input2[32] = 2;
  const t2 = crypto.hmacSha256(prk, input2);
  return [t1, t2];
}
