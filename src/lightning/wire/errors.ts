/** Why a wire decode or encode failed. Callers map every code to "close the connection" (BOLT 1). */
export type WireErrorCode =
  | 'truncated' // fewer bytes than a field needs
  | 'non-canonical' // a BigSize or truncated integer that is not minimally encoded
  | 'tlv-order' // TLV types not strictly increasing (includes duplicates)
  | 'unknown-even-tlv' // an even TLV type this stream does not know
  | 'unknown-even-type' // an even message type we do not know (BOLT 1: close the connection)
  | 'too-long' // a message or field longer than the format allows
  | 'bad-value'; // a field whose value is impossible (bad length for a known TLV, unknown encoding, ...)

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isWireError(err: unknown): err is WireError {
  return err instanceof WireError;
}
