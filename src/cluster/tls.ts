import { connect as tlsConnect, createServer as tlsCreateServer, type ConnectionOptions, type PeerCertificate, type Server, type TlsOptions, type TLSSocket } from 'node:tls';
import type { ClusterCredentials } from './certificate.js';
import { ClusterProtocolError } from './errors.js';

/**
 * Mutual TLS for the cluster link. Both ends present the cluster certificate and require the other to
 * present a trusted one: OpenSSL verifies the chain against `ca` (the trusted certificates), then we pin
 * the exact certificate by SHA-256 fingerprint, so a certificate merely *signed by* a trusted one (the
 * cluster certificate is a CA, which OpenSSL needs to anchor a self-signed leaf) is still refused.
 * There is deliberately no plaintext mode.
 */

/** Never hostname-checked: the back's address is configuration, the certificate identity is the pin. */
const SERVER_NAME = 'lncluster';

function baseOptions(credentials: ClusterCredentials): Pick<TlsOptions, 'cert' | 'key' | 'ca' | 'minVersion' | 'rejectUnauthorized'> {
  return {
    cert: credentials.certificatePem,
    key: credentials.keyPem,
    ca: credentials.trustedPems,
    minVersion: 'TLSv1.3',
    rejectUnauthorized: true,
  };
}

/** True when the peer presented exactly one of the trusted certificates. */
export function isTrustedPeer(socket: TLSSocket, credentials: ClusterCredentials): boolean {
  if (!socket.authorized) return false;
  const peer: PeerCertificate | undefined = socket.getPeerCertificate();
  const fingerprint = peer?.fingerprint256;
  return typeof fingerprint === 'string' && credentials.trustedFingerprints.includes(fingerprint);
}

export function untrustedCertificateError(socket: TLSSocket): ClusterProtocolError {
  const fingerprint = socket.getPeerCertificate()?.fingerprint256 ?? 'none';
  const reason = socket.authorizationError ? String(socket.authorizationError) : `fingerprint ${fingerprint} is not pinned`;
  return new ClusterProtocolError('untrusted-certificate', `peer certificate rejected: ${reason}`);
}

/** A TLS server that requires the client's cluster certificate. Pinning is checked per connection by the caller. */
export function createClusterTlsServer(credentials: ClusterCredentials, handshakeTimeoutMs = 10_000): Server {
  return tlsCreateServer({
    ...baseOptions(credentials),
    requestCert: true,
    // Node's default is 120 s: too long for a connection that has not even proven who it is.
    handshakeTimeout: handshakeTimeoutMs,
  });
}

export interface ClusterTlsConnectOptions {
  host: string;
  port: number;
  credentials: ClusterCredentials;
}

/** Opens a TLS connection that presents our certificate and pins the server's. */
export function connectClusterTls(options: ClusterTlsConnectOptions): TLSSocket {
  const connectOptions: ConnectionOptions = {
    ...baseOptions(options.credentials),
    host: options.host,
    port: options.port,
    servername: SERVER_NAME,
    // Replaces the hostname check with the fingerprint pin.
    checkServerIdentity: (_host, certificate) =>
      options.credentials.trustedFingerprints.includes(certificate.fingerprint256)
        ? undefined
        : new ClusterProtocolError('untrusted-certificate', `server certificate ${certificate.fingerprint256} is not pinned`),
  };
  return tlsConnect(connectOptions);
}
