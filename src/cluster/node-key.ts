import { readFile, stat } from 'node:fs/promises';
import { defaultCrypto } from '../lightning/crypto/index.js';
import { ClusterCredentialsError } from './errors.js';
import { writeSecretFile } from './files.js';

/** The node's secp256k1 secret key as a file: 64 hex characters and a newline, mode 0600. */

export async function writeNodeKeyFile(path: string, options: { force?: boolean; secretKey?: Uint8Array } = {}): Promise<Uint8Array> {
  const secretKey = options.secretKey ?? defaultCrypto().randomSecretKey();
  if (secretKey.length !== 32) throw new RangeError('node secret key must be 32 bytes');
  await writeSecretFile(path, `${Buffer.from(secretKey).toString('hex')}\n`, options.force ?? false);
  return secretKey;
}

/** Reads and checks a node key file; refuses one readable by group or others. */
export async function readNodeKeyFile(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ClusterCredentialsError(code === 'ENOENT' ? 'missing-file' : 'unreadable-key', `cannot read node key ${path}: ${(error as Error).message}`, path);
  }
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    throw new ClusterCredentialsError('unreadable-key', `node key ${path} must not be readable by group or others (chmod 600)`, path);
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ClusterCredentialsError('unreadable-key', `node key ${path} is not 64 hex characters`, path);
  const secretKey = new Uint8Array(Buffer.from(hex, 'hex'));
  try {
    defaultCrypto().publicKey(secretKey);
  } catch {
    throw new ClusterCredentialsError('unreadable-key', `node key ${path} is not a valid secp256k1 secret key`, path);
  }
  return secretKey;
}
