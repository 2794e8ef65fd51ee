import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { ed25519PublicKeyFromScalar } from '../../src/tor/ed25519-base.js';
import {
  OnionAddressError,
  decodeOnionKeyBlob,
  isOnionV3Address,
  onionAddressFromKey,
  onionAddressFromPublicKey,
  parseOnionAddress,
} from '../../src/tor/onion-address.js';

// Captured from Tor 0.4.9.11 here (`ADD_ONION NEW:ED25519-V3`, a throwaway key): Tor's own ServiceID for
// its own PrivateKey, so this checks the derivation without a running tor.
const TOR_KEY =
  'ED25519-V3:CJOxc88kB8DlhMXniW/tVSdqEw+2LOLWulrDLrpztHye5pIR9HpdXua/8BC2W7ggUFAx8nnZpW9mf0/PDCG22A==';
const TOR_ADDRESS = 'nsggunpwcrez6bsxwdih4aohmr7pjjnvw7nfnuu4jfels6bokgxr7nyd.onion';

test('address of a key Tor generated equals Tor ServiceID', (t) => {
  t.is(onionAddressFromKey(TOR_KEY), TOR_ADDRESS);
  t.is(onionAddressFromKey(decodeOnionKeyBlob(TOR_KEY)), TOR_ADDRESS);
});

test('scalar * B matches node:crypto ed25519 public keys (RFC 8032 expansion)', (t) => {
  for (let i = 0; i < 4; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const expected = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const h = createHash('sha512').update(seed).digest();
    const scalar = new Uint8Array(h.subarray(0, 32));
    scalar[0]! &= 248;
    scalar[31]! &= 127;
    scalar[31]! |= 64;
    t.deepEqual(Buffer.from(ed25519PublicKeyFromScalar(scalar)), expected);
  }
});

test('address round trip and validation', (t) => {
  const pub = new Uint8Array(32).fill(7);
  const address = onionAddressFromPublicKey(pub);
  t.is(address.length, 62);
  t.deepEqual(parseOnionAddress(address.toUpperCase()).publicKey, pub);
  t.true(isOnionV3Address(address.replace('.onion', '')));
  const tampered = address.slice(0, 10) + (address[10] === 'a' ? 'b' : 'a') + address.slice(11);
  t.is(t.throws(() => parseOnionAddress(tampered), { instanceOf: OnionAddressError })!.code, 'bad-checksum');
  t.is(t.throws(() => parseOnionAddress('abc.onion'), { instanceOf: OnionAddressError })!.code, 'bad-address');
  t.is(t.throws(() => parseOnionAddress(`${'1'.repeat(56)}.onion`), { instanceOf: OnionAddressError })!.code, 'bad-address');
  t.false(isOnionV3Address(TOR_ADDRESS.replace('nyd.onion', 'nya.onion')));
});

test('bad key blobs are typed errors', (t) => {
  t.is(t.throws(() => decodeOnionKeyBlob('ED25519-V3:AAAA'), { instanceOf: OnionAddressError })!.code, 'bad-key');
  t.is(t.throws(() => decodeOnionKeyBlob('not base64!'), { instanceOf: OnionAddressError })!.code, 'bad-key');
  t.throws(() => onionAddressFromKey(new Uint8Array(32)), { instanceOf: OnionAddressError });
  t.throws(() => onionAddressFromPublicKey(new Uint8Array(31)), { instanceOf: OnionAddressError });
});
