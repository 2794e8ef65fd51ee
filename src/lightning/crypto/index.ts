import { createNativeCrypto, loadNativeSecp256k1 } from './native.js';
import { nobleCrypto } from './noble.js';
import type { CryptoProvider } from './provider.js';

export * from './provider.js';
export { nobleCrypto } from './noble.js';
export { createNativeCrypto, loadNativeSecp256k1 } from './native.js';

let cached: CryptoProvider | undefined;

/**
 * The process-wide default: native when libsecp256k1 loads, noble otherwise.
 * `LNCLUSTER_CRYPTO=noble` forces the reference implementation (for comparisons and debugging).
 */
export function defaultCrypto(): CryptoProvider {
  if (cached) return cached;
  const native = process.env['LNCLUSTER_CRYPTO'] === 'noble' ? undefined : loadNativeSecp256k1();
  cached = native ? createNativeCrypto(native) : nobleCrypto;
  return cached;
}
