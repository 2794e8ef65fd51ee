/**
 * Version 3 onion addresses (rend-spec-v3 6, "Encoding onion addresses"):
 *   onion_address = base32(PUBKEY | CHECKSUM | VERSION) + ".onion"
 *   CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2], VERSION = 0x03
 */
import { createHash } from 'node:crypto';
import { ed25519PublicKeyFromScalar } from './ed25519-base.js';
import { base32Decode, base32Encode } from '../util/base32.js';

export type OnionAddressErrorCode = 'bad-address' | 'bad-checksum' | 'bad-version' | 'bad-key';

export class OnionAddressError extends Error {
  override readonly name = 'OnionAddressError';
  constructor(readonly code: OnionAddressErrorCode, message: string) {
    super(message);
  }
}

const VERSION = 0x03;
const CHECKSUM_PREFIX = new TextEncoder().encode('.onion checksum');
/** Length of the 56-character label (35 bytes in base32). */
export const ONION_V3_LABEL_LENGTH = 56;
/** Tor's key type prefix in ADD_ONION and in the PrivateKey it returns. */
export const ED25519_V3_KEY_PREFIX = 'ED25519-V3:';
/** Tor's expanded secret key: 32-byte clamped scalar, then the 32-byte nonce prefix. */
export const EXPANDED_SECRET_KEY_BYTES = 64;

function checksum(publicKey: Uint8Array): Uint8Array {
  const hash = createHash('sha3-256');
  hash.update(CHECKSUM_PREFIX);
  hash.update(publicKey);
  hash.update(Uint8Array.of(VERSION));
  return new Uint8Array(hash.digest()).subarray(0, 2);
}

/** "<56 chars>.onion" of a 32-byte ed25519 public key. */
export function onionAddressFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new OnionAddressError('bad-key', 'ed25519 public key must be 32 bytes');
  }
  const raw = new Uint8Array(35);
  raw.set(publicKey, 0);
  raw.set(checksum(publicKey), 32);
  raw[34] = VERSION;
  return `${base32Encode(raw)}.onion`;
}

/**
 * Validates a v3 onion address (with or without ".onion", any case) and returns its public key.
 * Throws OnionAddressError on a bad length/alphabet, checksum or version.
 */
export function parseOnionAddress(address: string): { publicKey: Uint8Array; address: string } {
  const label = address.toLowerCase().replace(/\.onion$/, '');
  if (label.length !== ONION_V3_LABEL_LENGTH) {
    throw new OnionAddressError('bad-address', `not a v3 onion address (${label.length} characters, expected 56)`);
  }
  const raw = base32Decode(label);
  if (!raw || raw.length !== 35) throw new OnionAddressError('bad-address', 'onion address is not base32');
  if (raw[34] !== VERSION) throw new OnionAddressError('bad-version', `onion address version ${raw[34]}, expected 3`);
  const publicKey = raw.subarray(0, 32);
  const expected = checksum(publicKey);
  if (raw[32] !== expected[0] || raw[33] !== expected[1]) throw new OnionAddressError('bad-checksum', 'onion address checksum mismatch');
  return { publicKey: new Uint8Array(publicKey), address: `${label}.onion` };
}

/** True for a syntactically valid v3 onion address (checksum included). */
export function isOnionV3Address(address: string): boolean {
  try {
    parseOnionAddress(address);
    return true;
  } catch {
    return false;
  }
}

/**
 * Decodes Tor's ED25519-V3 private key blob ("ED25519-V3:<base64>" as ADD_ONION returns it, or only the
 * base64) into the 64-byte expanded secret key.
 */
export function decodeOnionKeyBlob(blob: string): Uint8Array {
  const b64 = blob.startsWith(ED25519_V3_KEY_PREFIX) ? blob.slice(ED25519_V3_KEY_PREFIX.length) : blob;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new OnionAddressError('bad-key', 'onion key is not base64');
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  if (bytes.length !== EXPANDED_SECRET_KEY_BYTES) {
    throw new OnionAddressError('bad-key', `onion key has ${bytes.length} bytes, expected ${EXPANDED_SECRET_KEY_BYTES}`);
  }
  return bytes;
}

/** The onion address of Tor's ED25519-V3 private key (blob string or 64-byte expanded secret key). */
export function onionAddressFromKey(key: string | Uint8Array): string {
  const expanded = typeof key === 'string' ? decodeOnionKeyBlob(key) : key;
  if (!(expanded instanceof Uint8Array) || expanded.length !== EXPANDED_SECRET_KEY_BYTES) {
    throw new OnionAddressError('bad-key', `expanded ed25519 secret key must be ${EXPANDED_SECRET_KEY_BYTES} bytes`);
  }
  return onionAddressFromPublicKey(ed25519PublicKeyFromScalar(expanded.subarray(0, 32)));
}
