/**
 * Typed errors of the discovery layer. Every implementation (Consul, static, embedded) throws these,
 * so callers can branch on `code` without knowing which registry is behind the interface.
 */
export type DiscoveryErrorCode =
  /** The instance or its metadata cannot be represented in the registry (bad id, port, meta key...). */
  | 'DISCOVERY_INVALID_INSTANCE'
  /** The registry refused the token (Consul 403: "ACL not found", "Permission denied..."). */
  | 'DISCOVERY_ACL'
  /** The registry rejected the request as malformed (Consul 400); retrying will not help. */
  | 'DISCOVERY_BAD_REQUEST'
  /** The registry could not be reached, timed out, or answered 5xx: worth retrying later. */
  | 'DISCOVERY_UNAVAILABLE'
  /** The registry answered with an unexpected HTTP status. */
  | 'DISCOVERY_HTTP'
  /** The registry answered something we cannot parse (missing index header, body not JSON...). */
  | 'DISCOVERY_BAD_RESPONSE'
  /** The registration was already deregistered. */
  | 'DISCOVERY_DEREGISTERED'
  /** The operation was cancelled through its AbortSignal. */
  | 'DISCOVERY_ABORTED';

export interface DiscoveryErrorDetails {
  /** HTTP status when the error came from an HTTP registry. */
  readonly status?: number;
  /** The registry's own error text, verbatim (Consul answers plain text). */
  readonly registryMessage?: string;
  readonly cause?: unknown;
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  readonly code: DiscoveryErrorCode;
  readonly status: number | undefined;
  readonly registryMessage: string | undefined;

  constructor(code: DiscoveryErrorCode, message: string, details: DiscoveryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.registryMessage = details.registryMessage;
  }

  /** True when the same request may succeed later without any change of configuration. */
  get retryable(): boolean {
    return this.code === 'DISCOVERY_UNAVAILABLE' || this.code === 'DISCOVERY_HTTP' || this.code === 'DISCOVERY_BAD_RESPONSE';
  }
}

export function isDiscoveryError(err: unknown): err is DiscoveryError {
  return err instanceof DiscoveryError;
}
