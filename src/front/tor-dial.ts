/**
 * Fronts dialing through Tor: `front.tor-socks` turns into the dialer's `proxyDial`, a SocksDialer per
 * connect timeout (isolation from `front.tor-isolate`), and SOCKS failures become the connect outcomes
 * the back understands, with messages an operator can act on ("onion not published", "port not mapped").
 */
import type { Socket } from 'node:net';
import { splitHostPort } from '../config/load.js';
import { SocksDialer, type SocksConnectFailure, type SocksDialResult } from '../tor/socks-dialer.js';
import { DialError, isOnion } from './dialer.js';

export type ProxyDial = (host: string, port: number, timeoutMs: number) => Promise<Socket>;

export interface TorDialSettings {
  /** Tor's SocksPort as host:port; empty: no Tor. */
  socks: string;
  /** Fresh random SOCKS credentials per connection (separate circuits). */
  isolate: boolean;
  /** Every host through Tor, not only .onion. */
  all: boolean;
}

export interface TorDial {
  /** Opens the stream through Tor; rejects with DialError. */
  readonly proxyDial: ProxyDial;
  /** Whether `host` goes through Tor (always for .onion; every host with `all`). */
  readonly proxies: (host: string) => boolean;
  readonly settings: Readonly<TorDialSettings>;
}

/** Reads the front's Tor keys; undefined when `front.tor-socks` is empty. */
export function torDialFromConfig(config: { 'front.tor-socks': string; 'front.tor-isolate': boolean; 'front.tor-all': boolean }): TorDial | undefined {
  return createTorDial({ socks: config['front.tor-socks'], isolate: config['front.tor-isolate'], all: config['front.tor-all'] });
}

export function createTorDial(settings: TorDialSettings): TorDial | undefined {
  if (settings.socks === '') return undefined;
  const proxy = splitHostPort(settings.socks);
  // One dialer per timeout value: the front's connect timeout rarely changes, so this stays tiny.
  const dialers = new Map<number, SocksDialer>();
  const dialerFor = (timeoutMs: number): SocksDialer => {
    let dialer = dialers.get(timeoutMs);
    if (!dialer) {
      dialer = new SocksDialer({ proxy, connectTimeoutMs: timeoutMs, isolateStreams: settings.isolate, retryOnTimeout: true });
      dialers.set(timeoutMs, dialer);
    }
    return dialer;
  };
  return {
    settings: { ...settings },
    proxies: (host) => settings.all || isOnion(host),
    proxyDial: async (host, port, timeoutMs) => {
      const result = await dialerFor(timeoutMs).dial(host, port);
      if (result.ok) return result.socket;
      throw socksFailureToDialError(result, host, port);
    },
  };
}

type SocksFailure = Extract<SocksDialResult, { ok: false }>;

/** The connect outcome for each SOCKS failure. */
export function socksFailureOutcome(failure: SocksConnectFailure): DialError['outcome'] {
  switch (failure) {
    case 'HostUnreachable':
    case 'NetworkUnreachable':
    case 'TTLExpired':
    case 'InvalidAddress':
      return 'unreachable';
    case 'ConnectionRefused':
      return 'refused';
    case 'Timeout':
      return 'timeout';
    default:
      return 'failure';
  }
}

const EXPLANATIONS: Record<SocksConnectFailure, (target: string) => string> = {
  HostUnreachable: (t) => (isOnionTarget(t) ? `${t}: onion not published (Tor found no descriptor or the introduction failed)` : `${t}: host unreachable through Tor`),
  ConnectionRefused: (t) => (isOnionTarget(t) ? `${t}: the onion service does not map this port` : `${t}: connection refused (through Tor)`),
  TTLExpired: (t) => `${t}: Tor gave up (TTL expired / introduction timed out)`,
  NetworkUnreachable: (t) => `${t}: network unreachable through Tor`,
  NotAllowed: (t) => `${t}: Tor refused the connection (exit policy or client authorization)`,
  InvalidAddress: (t) => `${t}: not a valid address for Tor`,
  Failure: (t) => `${t}: Tor could not connect`,
  Timeout: (t) => `${t}: no connection through Tor in time (tried twice, fresh circuit the second time)`,
  ProxyUnreachable: (t) => `${t}: Tor's SOCKS port is not reachable (front.tor-socks; is tor running?)`,
  ProxyError: (t) => `${t}: the SOCKS proxy broke the handshake (is front.tor-socks really Tor's SocksPort?)`,
  Aborted: (t) => `${t}: dial aborted`,
};

function isOnionTarget(target: string): boolean {
  return isOnion(target.slice(0, target.lastIndexOf(':')));
}

export function socksFailureToDialError(result: SocksFailure, host: string, port: number): DialError {
  const target = `${host}:${port}`;
  const code = result.replyCode === undefined ? '' : ` (SOCKS reply 0x${result.replyCode.toString(16).padStart(2, '0')})`;
  return new DialError(socksFailureOutcome(result.failure), `${EXPLANATIONS[result.failure](target)}${code}`, {
    cause: result,
  });
}
