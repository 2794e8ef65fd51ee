/**
 * Every failure of the BOLT 8 transport surfaces as a TransportError with a machine-readable code,
 * so callers can tell a hostile or broken peer ('bad-*') from a network problem ('socket-error',
 * 'closed', 'timeout') without parsing messages.
 */
export type TransportErrorCode =
  /** An act or frame of the wrong size was handed to the state machine. */
  | 'bad-length'
  /** A handshake act with a version byte other than 0. */
  | 'bad-version'
  /** A public key in an act (or the remote node id we were given) is not a valid secp256k1 point. */
  | 'bad-key'
  /** A Poly1305 tag did not verify: handshake act or transport frame. */
  | 'bad-mac'
  /** A handshake method called out of order, or a cipher state used after a failure. */
  | 'bad-state'
  /** The static-key ECDH (possibly delegated to a remote key holder) failed or returned garbage. */
  | 'static-key-failed'
  /** A message longer than 65535 bytes. */
  | 'message-too-large'
  /** The handshake did not complete in time. */
  | 'timeout'
  /** The caller's AbortSignal fired during the handshake. */
  | 'aborted'
  /** The socket closed (or was closed) before or while the operation ran. */
  | 'closed'
  /** The underlying socket reported an error (ECONNRESET, ECONNREFUSED, ...): see `cause`. */
  | 'socket-error';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown; act?: 1 | 2 | 3 },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.act = options?.act;
  }
  /** The handshake act that failed, when the error came from the handshake. */
  readonly act: 1 | 2 | 3 | undefined;
}

/** Wraps anything thrown into a TransportError (keeps TransportErrors as they are). */
export function asTransportError(error: unknown, code: TransportErrorCode, message: string): TransportError {
  if (error instanceof TransportError) return error;
  return new TransportError(code, message, { cause: error });
}
