import type { CryptoProvider } from '../crypto/index.js';
import { TransportError } from './errors.js';
import { hkdf2 } from './hkdf.js';
import { encodeNonce } from './nonce.js';

/** BOLT 8: a key is rotated after it has encrypted (or decrypted) this many times. */
export const KEY_ROTATION_INTERVAL = 1000;

const EMPTY = new Uint8Array(0);

/**
 * One direction of a BOLT 8 session: a key, its nonce counter and this direction's own copy of the
 * chaining key. Every AEAD operation consumes one nonce; after 1000 the key rotates as
 * `ck', k' = HKDF(ck, k)` and the nonce restarts at 0. Each direction has its own chaining key: sharing
 * one between directions (as some implementations did) breaks once both sides have rotated.
 */
export class CipherState {
  private key: Uint8Array;
  private chainingKey: Uint8Array;
  private counter = 0;
  /** Reused per call: the providers use the nonce synchronously and do not keep it. */
  private readonly nonce = new Uint8Array(12);

  constructor(
    private readonly crypto: CryptoProvider,
    key: Uint8Array,
    chainingKey: Uint8Array,
  ) {
    if (key.length !== 32 || chainingKey.length !== 32) {
      throw new TransportError('bad-length', 'cipher state key and chaining key must be 32 bytes');
    }
    this.key = key.slice();
    this.chainingKey = chainingKey.slice();
  }

  /** Nonce the next operation will use (0..999): exposed for tests and diagnostics. */
  get nonceCounter(): number {
    return this.counter;
  }

  /** ChaCha20-Poly1305 with empty associated data; returns ciphertext || 16-byte tag. */
  encrypt(plaintext: Uint8Array): Uint8Array {
    const sealed = this.crypto.aeadEncrypt(this.key, encodeNonce(this.counter, this.nonce), EMPTY, plaintext);
    this.advance();
    return sealed;
  }

  /**
   * Inverse of encrypt. A failed tag throws TransportError('bad-mac'); the nonce is consumed anyway,
   * since a session whose stream failed authentication cannot continue.
   */
  decrypt(sealed: Uint8Array): Uint8Array {
    try {
      return this.crypto.aeadDecrypt(this.key, encodeNonce(this.counter, this.nonce), EMPTY, sealed);
    } catch (error) {
      throw new TransportError('bad-mac', 'message authentication failed', { cause: error });
    } finally {
      this.advance();
    }
  }

  private advance(): void {
    this.counter += 1;
    if (this.counter === KEY_ROTATION_INTERVAL) {
      const [chainingKey, key] = hkdf2(this.crypto, this.chainingKey, this.key);
      this.chainingKey = chainingKey;
      this.key = key;
      this.counter = 0;
    }
  }
}
