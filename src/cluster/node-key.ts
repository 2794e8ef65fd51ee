import { defaultCrypto } from '../lightning/crypto/index.js';
import { writeSecretFile } from './files.js';

/**
 * Writes the node's secp256k1 secret key as a file: 64 hex characters and a newline, mode 0600. The roles
 * read it back with loadNodeKey (src/config/node-key.ts).
 */
export async function writeNodeKeyFile(path: string, options: { force?: boolean; secretKey?: Uint8Array } = {}): Promise<Uint8Array> {
  const secretKey = options.secretKey ?? defaultCrypto().randomSecretKey();
  if (secretKey.length !== 32) throw new RangeError('node secret key must be 32 bytes');
  await writeSecretFile(path, `${Buffer.from(secretKey).toString('hex')}\n`, options.force ?? false);
  return secretKey;
}
