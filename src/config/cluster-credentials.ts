import { readFileSync } from 'node:fs';
import { loadClusterCredentials, type ClusterCredentials } from '../cluster/certificate.js';
import { ClusterCredentialsError } from '../cluster/errors.js';
import type { Config } from './keys.js';

/** The cluster certificate, key and password as configured (CLUSTER_TLS_PASSWORD or the password file). */
export async function clusterCredentialsFromConfig(config: Config): Promise<ClusterCredentials> {
  let password = config['cluster.password'];
  if (!password) {
    try {
      password = readFileSync(config['cluster.password-file'], 'utf8').trim();
    } catch {
      throw new ClusterCredentialsError(
        'missing-file',
        `no cluster key password: set CLUSTER_TLS_PASSWORD or cluster.password-file (${config['cluster.password-file']} is unreadable)`,
      );
    }
  }
  return loadClusterCredentials({
    certFile: config['cluster.cert'],
    keyFile: config['cluster.key'],
    password,
    extraTrustedCertFiles: config['cluster.trusted-certs'],
  });
}
