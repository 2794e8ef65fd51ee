/**
 * Outgoing TCP through Tor's SOCKS5 port (the `socks` package speaks the protocol).
 *
 * - Stream isolation: with `isolateStreams`, each connection offers fresh random username/password;
 *   Tor's IsolateSOCKSAuth (on by default) then never shares a circuit between two of them.
 * - A stuck circuit is reused for the same credentials, so after a timeout the dial is retried once
 *   with fresh credentials (whether or not isolation is on).
 * - Failures are results, not exceptions: the SOCKS reply code (and Tor's extended codes, RFC-less
 *   0xF0-0xF7 sent when the SocksPort has ExtendedErrors) maps to a small set of reasons a caller can act on.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { SocksClient } from 'socks';
import { isOnionV3Address } from './onion-address.js';

export type SocksConnectFailure =
  /** 0x04, or Tor's 0xF0 (descriptor not found) / 0xF2 (introduction failed): the onion is not published. */
  | 'HostUnreachable'
  /** 0x05: the destination refused; for an onion, the virtual port is not mapped. */
  | 'ConnectionRefused'
  /** 0x06, or Tor's 0xF7 (introduction timed out). */
  | 'TTLExpired'
  /** 0x03 */
  | 'NetworkUnreachable'
  /** 0x02, or Tor's 0xF4/0xF5 (client authorization missing or wrong). */
  | 'NotAllowed'
  /** A malformed host (bad onion checksum, too long), found locally or by Tor (0xF6). */
  | 'InvalidAddress'
  /** 0x01, 0x07, 0x08, Tor's 0xF1/0xF3, and any other code. */
  | 'Failure'
  /** No SOCKS reply within the connect timeout, twice (once with fresh credentials). */
  | 'Timeout'
  /** The SOCKS port itself cannot be reached (Tor not running, wrong port). */
  | 'ProxyUnreachable'
  /** The proxy broke the SOCKS handshake (closed, refused our authentication, spoke something else). */
  | 'ProxyError'
  | 'Aborted';

export type SocksDialResult =
  | { readonly ok: true; readonly socket: net.Socket; readonly attempts: number }
  | {
      readonly ok: false;
      readonly failure: SocksConnectFailure;
      /** The SOCKS5 reply code when the proxy sent one. */
      readonly replyCode?: number;
      readonly message: string;
      readonly attempts: number;
    };

export class SocksDialError extends Error {
  override readonly name = 'SocksDialError';
  constructor(
    readonly code: SocksConnectFailure,
    message: string,
    readonly replyCode?: number,
  ) {
    super(message);
  }
}

export interface SocksDialerOptions {
  /** Tor's SocksPort. */
  proxy: { host: string; port: number };
  /** Time for one attempt: TCP to the proxy, handshake, and Tor building the circuit. */
  connectTimeoutMs: number;
  /** Fresh random credentials on every connection (separate circuits). */
  isolateStreams: boolean;
  /** Retry once with fresh credentials after a timeout. */
  retryOnTimeout: boolean;
}

export const DEFAULT_SOCKS_DIALER_OPTIONS: Omit<SocksDialerOptions, 'proxy'> = {
  connectTimeoutMs: 60_000,
  isolateStreams: false,
  retryOnTimeout: true,
};

/** Maps a SOCKS5 reply code (RFC 1928 and Tor's extended errors) to a connect failure. */
export function socksReplyToFailure(code: number): SocksConnectFailure {
  switch (code) {
    case 0x02:
    case 0xf4:
    case 0xf5:
      return 'NotAllowed';
    case 0x03:
      return 'NetworkUnreachable';
    case 0x04:
    case 0xf0:
    case 0xf2:
      return 'HostUnreachable';
    case 0x05:
      return 'ConnectionRefused';
    case 0x06:
    case 0xf7:
      return 'TTLExpired';
    case 0xf6:
      return 'InvalidAddress';
    default:
      return 'Failure';
  }
}

interface Credentials {
  userId: string;
  password: string;
}

type AttemptResult =
  | { ok: true; socket: net.Socket }
  | { ok: false; failure: SocksConnectFailure; replyCode?: number; message: string };

export class SocksDialer {
  readonly options: SocksDialerOptions;

  constructor(options: Partial<SocksDialerOptions> & Pick<SocksDialerOptions, 'proxy'>) {
    this.options = { ...DEFAULT_SOCKS_DIALER_OPTIONS, ...options };
  }

  /**
   * Dials host:port through the proxy. On success the socket is connected end to end, paused until the
   * caller reads; attach an 'error' listener at once (the dialer's own listeners are gone).
   */
  async dial(host: string, port: number, signal?: AbortSignal): Promise<SocksDialResult> {
    const invalid = validateDestination(host, port);
    if (invalid) return { ok: false, failure: 'InvalidAddress', message: invalid, attempts: 0 };
    const first = await this.attempt(host, port, this.options.isolateStreams ? freshCredentials() : undefined, signal);
    if (first.ok || first.failure !== 'Timeout' || !this.options.retryOnTimeout) return { ...first, attempts: 1 };
    const second = await this.attempt(host, port, freshCredentials(), signal);
    return { ...second, attempts: 2 };
  }

  /** Like dial, but rejects with SocksDialError. */
  async dialOrThrow(host: string, port: number, signal?: AbortSignal): Promise<net.Socket> {
    const result = await this.dial(host, port, signal);
    if (result.ok) return result.socket;
    throw new SocksDialError(result.failure, result.message, result.replyCode);
  }

  private attempt(host: string, port: number, credentials: Credentials | undefined, signal?: AbortSignal): Promise<AttemptResult> {
    const { proxy, connectTimeoutMs } = this.options;
    const where = `${host}:${port} via SOCKS ${proxy.host}:${proxy.port}`;
    if (signal?.aborted) return Promise.resolve({ ok: false, failure: 'Aborted', message: `dial ${where} aborted` });
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      let timedOut = false;
      const socket = net.connect({ host: proxy.host, port: proxy.port });
      // A copy of the first bytes from the proxy: the `socks` package reports only a reply name, and
      // not at all for Tor's extended codes.
      const seen: number[] = [];
      const tap = (chunk: Buffer): void => {
        for (const byte of chunk) {
          if (seen.length >= 64) break;
          seen.push(byte);
        }
      };
      const finish = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('data', tap);
        if (!result.ok) socket.destroy();
        resolve(result);
      };
      const onAbort = (): void => finish({ ok: false, failure: 'Aborted', message: `dial ${where} aborted` });
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        timedOut = true;
        finish({ ok: false, failure: 'Timeout', message: `dial ${where}: no connection within ${connectTimeoutMs} ms` });
      }, connectTimeoutMs);

      const onConnectError = (err: Error): void =>
        finish({ ok: false, failure: 'ProxyUnreachable', message: `cannot reach SOCKS proxy ${proxy.host}:${proxy.port}: ${err.message}` });
      socket.once('error', onConnectError);
      socket.once('connect', () => {
        socket.off('error', onConnectError);
        if (settled) return;
        socket.on('data', tap);
        SocksClient.createConnection({
          proxy: { host: proxy.host, port: proxy.port, type: 5, ...(credentials ?? {}) },
          command: 'connect',
          destination: { host, port },
          existing_socket: socket,
          // Our own timer decides; the package's is only a backstop.
          timeout: connectTimeoutMs + 1_000,
        }).then(
          (info) => finish({ ok: true, socket: info.socket }),
          (err: Error) => {
            if (timedOut || settled) return;
            finish(failureFromHandshake(seen, err, where, credentials !== undefined));
          },
        );
      });
    });
  }
}

/** Works out the failure from the bytes the proxy sent: method choice, optional auth reply, connect reply. */
function failureFromHandshake(seen: readonly number[], err: Error, where: string, offeredAuth: boolean): AttemptResult {
  const base = `dial ${where}`;
  if (seen.length < 2 || seen[0] !== 0x05) return { ok: false, failure: 'ProxyError', message: `${base}: ${err.message}` };
  let offset = 2;
  if (seen[1] === 0x02 && offeredAuth) {
    if (seen.length < 4) return { ok: false, failure: 'ProxyError', message: `${base}: ${err.message}` };
    if (seen[3] !== 0x00) return { ok: false, failure: 'ProxyError', message: `${base}: proxy refused username/password` };
    offset = 4;
  }
  if (seen.length >= offset + 2 && seen[offset] === 0x05 && seen[offset + 1] !== 0x00) {
    const replyCode = seen[offset + 1]!;
    const failure = socksReplyToFailure(replyCode);
    return { ok: false, failure, replyCode, message: `${base}: ${failure} (SOCKS reply 0x${replyCode.toString(16).padStart(2, '0')})` };
  }
  return { ok: false, failure: 'ProxyError', message: `${base}: ${err.message}` };
}

function validateDestination(host: string, port: number): string | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `bad port ${port}`;
  if (host.length === 0 || Buffer.byteLength(host) > 255) return `bad host length ${host.length}`;
  if (/\.onion$/i.test(host) && !isOnionV3Address(host)) return `${host} is not a valid v3 onion address`;
  return undefined;
}

function freshCredentials(): Credentials {
  return { userId: randomBytes(12).toString('hex'), password: randomBytes(12).toString('hex') };
}
