export type GossipErrorCode =
  | 'bad-input' // a caller-supplied value we cannot announce (alias too long, bad color, port 0, ...)
  | 'bad-message'; // bytes that are not the gossip message the caller said they were

export class GossipError extends Error {
  override readonly name = 'GossipError';
  constructor(
    readonly code: GossipErrorCode,
    message: string,
  ) {
    super(message);
  }
}
