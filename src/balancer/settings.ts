// The balancer role's settings, derived from the configuration keys in one place (start and SIGHUP
// reload both go through here).
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import type { AdmissionLimits } from './admission.js';
import type { HealthCheckOptions } from './backend-set.js';
import type { DataPathChoice, ListenSpec } from './engine.js';

export class BalancerSettingsError extends Error {
  override readonly name = 'BalancerSettingsError';
  constructor(
    readonly code: 'BAD_LISTEN' | 'UNSUPPORTED',
    message: string,
  ) {
    super(message);
  }
}

export interface BalancerSettings {
  engine: 'builtin' | 'haproxy';
  listen: ListenSpec[];
  /** The Tor onion service target, null when not configured. */
  torListen: ListenSpec | null;
  workers: number;
  /** Built-in engine only: native relay, net.Socket, or native when its module is built. */
  dataPath: DataPathChoice;
  idleTimeoutMs: number;
  limits: AdmissionLimits;
  /** Active checks; null where discovery already tracks liveness (the embedded registry). */
  healthCheck: HealthCheckOptions | null;
  haproxyBinary: string;
}

/** How a new connection per second per source may burst: twice the sustained rate. */
const BURST_FACTOR = 2;

/**
 * `host:port` strings as listen specs. `0.0.0.0:P` together with `[::]:P` (the default) becomes
 * one dual-stack `[::]:P` socket: two sockets on the same port would collide, and the dual-stack
 * one serves IPv4 too (it falls back to 0.0.0.0 where IPv6 is unavailable).
 */
export function parseListen(entries: readonly string[]): ListenSpec[] {
  const specs: ListenSpec[] = [];
  for (const entry of entries) {
    const { host, port } = splitHostPort(entry.trim());
    if (!host || !Number.isInteger(port) || port < 0 || port > 65535 || !entry.includes(':')) {
      throw new BalancerSettingsError('BAD_LISTEN', `listen address ${JSON.stringify(entry)} is not host:port`);
    }
    specs.push({ host, port });
  }
  const wildcardV6 = new Set(specs.filter((s) => s.host === '::' && s.port !== 0).map((s) => s.port));
  const out = specs.filter((s) => !(s.host === '0.0.0.0' && wildcardV6.has(s.port)));
  const seen = new Set<string>();
  return out.filter((s) => {
    const key = `${s.host}|${s.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function balancerSettingsFromConfig(config: Config): BalancerSettings {
  const listen = parseListen(config['balancer.listen']);
  if (listen.length === 0) throw new BalancerSettingsError('BAD_LISTEN', 'balancer.listen is empty');
  const torListen = config['balancer.tor-listen'] ? parseListen([config['balancer.tor-listen']])[0]! : null;
  const engine = config['balancer.engine'];
  if (engine === 'haproxy' && torListen) {
    throw new BalancerSettingsError('UNSUPPORTED', 'balancer.tor-listen needs the builtin engine (HAProxy cannot tag connections with the origin TLV)');
  }
  const rate = config['balancer.max-new-per-ip-per-second'];
  return {
    engine,
    listen,
    torListen,
    workers: config['balancer.workers'],
    dataPath: config['balancer.data-path'],
    idleTimeoutMs: config['balancer.idle-timeout-ms'],
    limits: {
      maxConnections: config['balancer.max-connections'],
      maxConnectionsPerSource: config['balancer.max-connections-per-ip'],
      newConnectionsPerSecondPerSource: rate,
      newConnectionsBurstPerSource: rate * BURST_FACTOR,
      ipv6PrefixLength: 64,
    },
    // The back drops a front from the embedded registry within seconds of its link going quiet;
    // Consul and static lists get our own checks (HTTP on the front's ready URL when it publishes
    // one, else a TCP connect that sends a PROXY LOCAL header).
    healthCheck: config.discovery === 'embedded' ? null : { kind: 'http', intervalMs: 2_000, timeoutMs: 1_000, fallThreshold: 2, sendProxyLocal: true },
    haproxyBinary: config['balancer.haproxy-binary'] || 'haproxy',
  };
}

export function formatListen(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
