/** Typed errors of the cluster link. Every failure a caller may want to branch on carries a `code`. */

export type ClusterCredentialsErrorCode =
  | 'missing-file'
  | 'unreadable-certificate'
  | 'unreadable-key'
  | 'wrong-password'
  | 'key-mismatch'
  | 'file-exists'
  | 'bad-password';

/** Loading or generating the cluster certificate, its key, the password or the node key failed. */
export class ClusterCredentialsError extends Error {
  override readonly name = 'ClusterCredentialsError';
  constructor(
    readonly code: ClusterCredentialsErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}

export type ClusterProtocolErrorCode =
  /** A frame announced a length above the configured maximum. */
  | 'frame-too-large'
  /** A frame announced a length too small to hold its type. */
  | 'frame-too-small'
  /** The stream ended in the middle of a frame. */
  | 'truncated'
  /** A frame type this version does not know (the peer may run a newer version). */
  | 'unknown-frame-type'
  /** A known frame whose payload does not decode (wrong length, bad enum, invalid UTF-8, trailing bytes...). */
  | 'malformed'
  /** No protocol version in common. */
  | 'version-mismatch'
  /** A valid message at the wrong time (no hello first, a second hello, a peer message before welcome...). */
  | 'unexpected-message'
  /** The peer did not complete the hello/welcome exchange in time. */
  | 'handshake-timeout'
  /** The peer presented a certificate that is not one of the trusted cluster certificates. */
  | 'untrusted-certificate';

/** The other end broke the link protocol. The link is closed when this is raised. */
export class ClusterProtocolError extends Error {
  override readonly name = 'ClusterProtocolError';
  constructor(
    readonly code: ClusterProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
