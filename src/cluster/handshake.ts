import { ClusterProtocolError } from './errors.js';
import { CLUSTER_PROTOCOL_VERSION, MIN_CLUSTER_PROTOCOL_VERSION } from './messages.js';

/** The highest version both ranges contain, or a 'version-mismatch' error. */
export function negotiateVersion(peerMin: number, peerMax: number): number {
  const version = Math.min(peerMax, CLUSTER_PROTOCOL_VERSION);
  if (version < Math.max(peerMin, MIN_CLUSTER_PROTOCOL_VERSION)) {
    throw new ClusterProtocolError(
      'version-mismatch',
      `no common cluster protocol version: peer speaks ${peerMin}..${peerMax}, this end ${MIN_CLUSTER_PROTOCOL_VERSION}..${CLUSTER_PROTOCOL_VERSION}`,
    );
  }
  return version;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
