// Both crypto providers, so every vector runs against each.
import { createNativeCrypto, loadNativeSecp256k1, nobleCrypto, type CryptoProvider } from '../../src/lightning/crypto/index.js';

const nativeBindings = loadNativeSecp256k1();

export const providers: CryptoProvider[] = nativeBindings ? [createNativeCrypto(nativeBindings), nobleCrypto] : [nobleCrypto];
export const nativeAvailable = nativeBindings !== undefined;
