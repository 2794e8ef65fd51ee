import { readFileSync, statSync } from 'node:fs';
import { defaultCrypto } from '../lightning/crypto/index.js';
import type { Config } from './keys.js';

export type NodeKeyErrorCode = 'missing' | 'unsafe-permissions' | 'malformed' | 'provider-failed' | 'node-id-mismatch';

export class NodeKeyError extends Error {
  override readonly name = 'NodeKeyError';
  constructor(readonly code: NodeKeyErrorCode, message: string) {
    super(message);
  }
}

export interface NodeKey {
  secret: Uint8Array;
  /** 33-byte compressed public key: the node id. */
  nodeId: Uint8Array;
}

function parseSecret(text: string, where: string): Uint8Array {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new NodeKeyError('malformed', `${where}: expected 64 hex characters (a 32-byte secret key)`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Loads the node secret key from the configured provider. A file must not be readable by group or
 * others; `node-id`, when set (NODE_PUB_KEY), must match the key's public key.
 */
export async function loadNodeKey(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<NodeKey> {
  let secret: Uint8Array;
  switch (config['node-key.provider']) {
    case 'file': {
      const file = config['node-key.file'];
      let mode: number;
      try {
        mode = statSync(file).mode;
      } catch {
        throw new NodeKeyError(
          'missing',
          `node key file ${file} does not exist (create one with \`lncluster keygen --node-key --data-dir ${config['data-dir']}\`, or set node-key.file)`,
        );
      }
      if ((mode & 0o077) !== 0) {
        throw new NodeKeyError('unsafe-permissions', `node key file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${file}`);
      }
      secret = parseSecret(readFileSync(file, 'utf8'), `node key file ${file}`);
      break;
    }
    case 'env': {
      const name = config['node-key.env'];
      const value = env[name];
      if (!value) throw new NodeKeyError('missing', `environment variable ${name} (node-key.env) is not set`);
      secret = parseSecret(value, `environment variable ${name}`);
      break;
    }
    case 'aws-sm': {
      const { fetchAwsSecret } = await import('./aws-secret.js');
      const id = config['node-key.aws-secret'];
      if (!id) throw new NodeKeyError('missing', 'node-key.aws-secret must name the secret when node-key.provider = aws-sm');
      secret = parseSecret(await fetchAwsSecret(id), `AWS secret ${id}`);
      break;
    }
  }
  let nodeId: Uint8Array;
  try {
    nodeId = defaultCrypto().publicKey(secret);
  } catch {
    throw new NodeKeyError('malformed', 'the node key is not a valid secp256k1 secret key');
  }
  assertExpectedNodeId(config, nodeId, 'the node key');
  return { secret, nodeId };
}

/** NODE_PUB_KEY / node-id: refuse to serve any other node. */
export function assertExpectedNodeId(config: Config, nodeId: Uint8Array, what: string): void {
  const expected = config['node-id'];
  const actual = Buffer.from(nodeId).toString('hex');
  if (expected && expected !== actual) {
    throw new NodeKeyError('node-id-mismatch', `${what} has node id ${actual} but node-id (NODE_PUB_KEY) is ${expected}`);
  }
}
