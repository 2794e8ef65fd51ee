// Admission control for the public port: a global cap, a cap on concurrent connections per source,
// and a token bucket on new connections per second per source. IPv6 sources are grouped by prefix
// (a /64 by default), since one host usually owns a whole /64 and could otherwise rotate through it.
import net from 'node:net';
import { ipv6Bytes, normalizeAddress } from './proxy-v2.js';

export interface AdmissionLimits {
  /** Connections open at once, all sources together. */
  maxConnections: number;
  /** Connections open at once from one source. */
  maxConnectionsPerSource: number;
  /** Sustained new connections per second from one source. */
  newConnectionsPerSecondPerSource: number;
  /** Bucket size: how many new connections a quiet source may open at once. */
  newConnectionsBurstPerSource: number;
  /** IPv6 sources sharing this many leading bits count as one source. */
  ipv6PrefixLength: number;
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  maxConnections: 20_000,
  maxConnectionsPerSource: 64,
  newConnectionsPerSecondPerSource: 20,
  newConnectionsBurstPerSource: 40,
  ipv6PrefixLength: 64,
};

export type AdmissionVerdict = 'admitted' | 'global-cap' | 'source-connections' | 'source-rate';

interface SourceState {
  connections: number;
  tokens: number;
  refilledAt: number;
}

/** The key a source address is counted under. */
export function sourceKey(address: string, ipv6PrefixLength: number): string {
  // Fast paths for what sockets report for IPv4 clients: "1.2.3.4", or "::ffff:1.2.3.4" on a
  // dual-stack listener. Runs once per accepted connection, so no regex here.
  if (address.indexOf(':') < 0 && address.length > 0) return address;
  if (address.startsWith('::ffff:') && address.indexOf(':', 7) < 0 && address.indexOf('.', 7) > 0) return address.slice(7);
  const ip = normalizeAddress(address);
  if (!net.isIPv6(ip)) return ip;
  const bytes = ipv6Bytes(ip);
  const bits = Math.max(0, Math.min(128, ipv6PrefixLength));
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${Buffer.from(bytes).toString('hex')}/${bits}`;
}

export class AdmissionControl {
  private limits: AdmissionLimits;
  private readonly sources = new Map<string, SourceState>();
  private total = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(limits: Partial<AdmissionLimits> = {}) {
    this.limits = { ...DEFAULT_ADMISSION_LIMITS, ...limits };
    // Forget sources with no connection whose bucket is full again: they are indistinguishable
    // from new ones, and keeping them would let the map grow with every address ever seen.
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  setLimits(limits: Partial<AdmissionLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  get activeConnections(): number {
    return this.total;
  }

  get trackedSources(): number {
    return this.sources.size;
  }

  /** Decides on a new connection from `address`; when admitted, call `release(key)` once it closes. */
  admit(address: string): { verdict: AdmissionVerdict; key: string } {
    const key = this.keyOf(address);
    return { verdict: this.admitKey(key), key };
  }

  /** The key `address` is counted under (what `admitKey` and `release` take). */
  keyOf(address: string): string {
    return sourceKey(address, this.limits.ipv6PrefixLength);
  }

  /** `admit` for a key from `keyOf`, without allocating a result (the per-connection path). */
  admitKey(key: string): AdmissionVerdict {
    const limits = this.limits;
    if (this.total >= limits.maxConnections) return 'global-cap';
    const now = Date.now();
    let state = this.sources.get(key);
    if (!state) {
      state = { connections: 0, tokens: limits.newConnectionsBurstPerSource, refilledAt: now };
      this.sources.set(key, state);
    } else {
      const refill = ((now - state.refilledAt) * limits.newConnectionsPerSecondPerSource) / 1000;
      state.tokens = Math.min(limits.newConnectionsBurstPerSource, state.tokens + refill);
      state.refilledAt = now;
    }
    if (state.connections >= limits.maxConnectionsPerSource) return 'source-connections';
    if (state.tokens < 1) return 'source-rate';
    state.tokens -= 1;
    state.connections++;
    this.total++;
    return 'admitted';
  }

  release(key: string): void {
    const state = this.sources.get(key);
    if (state && state.connections > 0) state.connections--;
    if (this.total > 0) this.total--;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    const { newConnectionsPerSecondPerSource: rate, newConnectionsBurstPerSource: burst } = this.limits;
    for (const [key, state] of this.sources) {
      if (state.connections > 0) continue;
      const tokens = state.tokens + ((now - state.refilledAt) * rate) / 1000;
      if (tokens >= burst) this.sources.delete(key);
    }
  }
}
