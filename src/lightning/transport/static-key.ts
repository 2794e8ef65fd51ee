import type { CryptoProvider } from '../crypto/index.js';
import { TransportError } from './errors.js';

/**
 * The node's long-term key as the handshake sees it: its public half and the one operation the
 * handshake needs from the private half. A keyless front implements `ecdh` by asking the key holder
 * over the cluster link, so the private key never has to live in the front's process.
 */
export interface StaticKey {
  /** 33-byte compressed public key (the node id). */
  readonly publicKey: Uint8Array;
  /** BOLT 8 ECDH with the static private key: SHA-256 of the compressed shared point, 32 bytes. */
  ecdh(remotePoint: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * True when `ecdh` itself rejects an invalid point (CryptoError 'bad-point'), synchronously and cheaply:
   * the handshake then skips its own check of the peer's ephemeral key, one point decompression (~5 µs,
   * 2% of a responder handshake). Leave it unset for a remote key holder: the handshake checks the
   * point before asking, so garbage never crosses the link.
   */
  readonly rejectsInvalidPoints?: boolean;
}

/** A StaticKey whose private key is in this process: every call is synchronous. */
export function localStaticKey(secret: Uint8Array, crypto: CryptoProvider): StaticKey {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) {
    throw new TransportError('bad-length', 'static secret key must be 32 bytes');
  }
  const ownSecret = secret.slice();
  let publicKey: Uint8Array;
  try {
    publicKey = crypto.publicKey(ownSecret);
  } catch (error) {
    throw new TransportError('bad-key', 'invalid static secret key', { cause: error });
  }
  return {
    publicKey,
    ecdh: (remotePoint) => crypto.ecdh(ownSecret, remotePoint),
    rejectsInvalidPoints: true,
  };
}
