import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCrypto } from '../lightning/crypto/index.js';
import { loadClusterCredentials, writeClusterCertificate, type ClusterCredentials } from './certificate.js';
import { ClusterCredentialsError } from './errors.js';
import { refuseOverwrite, writeSecretFile } from './files.js';
import { writeNodeKeyFile } from './node-key.js';

/** Where keygen puts things in a data directory, and where the roles look for them. */
export interface ClusterFilePaths {
  certFile: string;
  keyFile: string;
  passwordFile: string;
  nodeKeyFile: string;
}

export function clusterFilePaths(dataDir: string): ClusterFilePaths {
  return {
    certFile: join(dataDir, 'cluster.crt'),
    keyFile: join(dataDir, 'cluster.key'),
    passwordFile: join(dataDir, 'cluster.password'),
    nodeKeyFile: join(dataDir, 'node_key'), // node-key.file's default (src/config/keys.ts)
  };
}

/** A password file holds the password on its first line; a trailing newline is not part of it. */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ClusterCredentialsError(missing ? 'missing-file' : 'bad-password', `cannot read password file ${path}: ${(error as Error).message}`, path);
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password.length === 0) throw new ClusterCredentialsError('bad-password', `password file ${path} is empty`, path);
  return password;
}

export interface GenerateClusterFilesOptions {
  dataDir: string;
  /** Read the password from this file; without it a random one is generated into the data dir. */
  passwordFile?: string;
  /** Also create the node's secret key. */
  nodeKey?: boolean;
  force?: boolean;
}

export interface GeneratedClusterFiles extends ClusterFilePaths {
  fingerprint256: string;
  /** True when the password was generated (and written to `passwordFile`). */
  passwordGenerated: boolean;
  /** Hex of the node public key, when a node key was created. */
  nodeId?: string;
}

/** What `lncluster keygen` does. Nothing is written when any target exists and `force` is off. */
export async function generateClusterFiles(options: GenerateClusterFilesOptions): Promise<GeneratedClusterFiles> {
  const force = options.force ?? false;
  const paths = clusterFilePaths(options.dataDir);
  const passwordFile = options.passwordFile ?? paths.passwordFile;
  const passwordGenerated = options.passwordFile === undefined;
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  await refuseOverwrite(
    [paths.certFile, paths.keyFile, ...(passwordGenerated ? [passwordFile] : []), ...(options.nodeKey ? [paths.nodeKeyFile] : [])],
    force,
  );
  let password: string;
  if (passwordGenerated) {
    password = randomBytes(24).toString('base64url');
    await writeSecretFile(passwordFile, `${password}\n`, force);
  } else {
    password = await readPasswordFile(passwordFile);
  }
  const created = await writeClusterCertificate({ certFile: paths.certFile, keyFile: paths.keyFile, password, force });
  const result: GeneratedClusterFiles = { ...paths, passwordFile, fingerprint256: created.fingerprint256, passwordGenerated };
  if (options.nodeKey) {
    const secretKey = await writeNodeKeyFile(paths.nodeKeyFile, { force });
    result.nodeId = Buffer.from(defaultCrypto().publicKey(secretKey)).toString('hex');
    secretKey.fill(0);
  }
  return result;
}

/** Loads the credentials keygen wrote in a data directory (password from `passwordFile` or the data dir). */
export async function loadClusterCredentialsFromDataDir(
  dataDir: string,
  options: { passwordFile?: string; extraTrustedCertFiles?: readonly string[] } = {},
): Promise<ClusterCredentials> {
  const paths = clusterFilePaths(dataDir);
  const password = await readPasswordFile(options.passwordFile ?? paths.passwordFile);
  return loadClusterCredentials({
    certFile: paths.certFile,
    keyFile: paths.keyFile,
    password,
    ...(options.extraTrustedCertFiles ? { extraTrustedCertFiles: options.extraTrustedCertFiles } : {}),
  });
}
