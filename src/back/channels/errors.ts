export type ChannelEngineErrorCode =
  | 'not-started'
  | 'closed'
  | 'bad-input'
  | 'bad-seed'
  | 'corrupt-state'
  | 'identity-mismatch'
  | 'peer-rejected'
  | 'api-error'
  | 'unknown-channel'
  | 'payment-failed'
  | 'chain-error';

export class ChannelEngineError extends Error {
  override readonly name = 'ChannelEngineError';
  constructor(
    readonly code: ChannelEngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
