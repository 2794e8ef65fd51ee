// The set of fronts a balancer may send connections to, with their health and load.
// Discovery provides the membership (`update(snapshot)`); this module adds what a data plane
// learns by itself: passive health (a failed connect takes a backend out for a cooldown), active
// checks (TCP connect or HTTP GET), and the count of connections each backend carries now.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import http from 'node:http';
import { encodeProxyV2 } from './proxy-v2.js';

export type BackendState = 'ready' | 'draining' | 'down';

/** One backend as discovery describes it. */
export interface BackendSpec {
  id: string;
  host: string;
  port: number;
  /** Discovery's view; omitted means ready. 'down' members stay known but get no connections. */
  state?: BackendState;
  /** For HTTP health checks: full URL of the backend's health endpoint. */
  healthUrl?: string;
}

export interface BackendView {
  id: string;
  host: string;
  port: number;
  /** Effective state: administrative draining wins, then health. */
  state: BackendState;
  activeConnections: number;
  totalConnections: number;
  /** Consecutive failures (connects and active checks); reset by a success. */
  failures: number;
}

export interface HealthCheckOptions {
  kind: 'tcp' | 'http';
  intervalMs: number;
  timeoutMs: number;
  /** Failures in a row before an active check marks a backend down. */
  fallThreshold: number;
  /** TCP checks write a PROXY v2 LOCAL header, so fronts that demand one from us do not log an error. */
  sendProxyLocal?: boolean;
}

export interface BackendSetOptions {
  /** How long a backend stays out after a failed connect. */
  failureCooldownMs: number;
  /** Active checks; null disables them (health then comes from discovery and passive checks). */
  healthCheck: HealthCheckOptions | null;
}

export const DEFAULT_BACKEND_SET_OPTIONS: BackendSetOptions = {
  failureCooldownMs: 5_000,
  healthCheck: null,
};

export const DEFAULT_HEALTH_CHECK: HealthCheckOptions = {
  kind: 'tcp',
  intervalMs: 2_000,
  timeoutMs: 1_000,
  fallThreshold: 2,
};

interface BackendEntry {
  id: string;
  host: string;
  port: number;
  healthUrl: string | undefined;
  discoveryState: BackendState;
  adminDraining: boolean;
  activeConnections: number;
  totalConnections: number;
  failures: number;
  /** Passive health: out of rotation until this time (ms since epoch). */
  downUntil: number;
  /** Active health: false after `fallThreshold` failed checks, true again after one success. */
  checkHealthy: boolean;
  checkFailures: number;
}

/** Where to connect for one chosen backend (the hot path's lean answer; see `pick`). */
export interface BackendTarget {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface BackendSetEvents {
  change: [BackendView[]];
}

/**
 * Backends plus least-connections choice. Not thread-safe across processes: each balancer worker
 * keeps its own set, so "fewest connections" is per worker (see builtin.ts).
 */
export class BackendSet extends EventEmitter<BackendSetEvents> {
  private readonly entries = new Map<string, BackendEntry>();
  /** `entries` as an array, rebuilt on membership changes, so choosing allocates nothing. */
  private ordered: BackendEntry[] = [];
  private readonly options: BackendSetOptions;
  private rotation = 0;
  private checkTimer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(options: Partial<BackendSetOptions> = {}, snapshot: readonly BackendSpec[] = []) {
    super();
    this.options = { ...DEFAULT_BACKEND_SET_OPTIONS, ...options };
    this.update(snapshot);
  }

  /**
   * Replaces the membership. Backends that stay (same id) keep their counters and health; one whose
   * address changed is treated as new for health (its old failures were about another process).
   */
  update(snapshot: readonly BackendSpec[]): void {
    const seen = new Set<string>();
    for (const spec of snapshot) {
      if (!spec.id || !Number.isInteger(spec.port) || spec.port <= 0 || spec.port > 65535) continue;
      seen.add(spec.id);
      const existing = this.entries.get(spec.id);
      if (existing) {
        if (existing.host !== spec.host || existing.port !== spec.port) {
          existing.host = spec.host;
          existing.port = spec.port;
          existing.failures = 0;
          existing.downUntil = 0;
          existing.checkHealthy = true;
          existing.checkFailures = 0;
        }
        existing.healthUrl = spec.healthUrl;
        existing.discoveryState = spec.state ?? 'ready';
      } else {
        this.entries.set(spec.id, {
          id: spec.id,
          host: spec.host,
          port: spec.port,
          healthUrl: spec.healthUrl,
          discoveryState: spec.state ?? 'ready',
          adminDraining: false,
          activeConnections: 0,
          totalConnections: 0,
          failures: 0,
          downUntil: 0,
          checkHealthy: true,
          checkFailures: 0,
        });
      }
    }
    for (const id of [...this.entries.keys()]) if (!seen.has(id)) this.entries.delete(id);
    this.ordered = [...this.entries.values()];
    this.changed();
  }

  /** The ready backend with the fewest active connections; ties rotate. Null when none is ready. */
  choose(exclude?: ReadonlySet<string>): BackendView | null {
    const best = this.pickEntry(exclude);
    return best ? this.view(best, Date.now()) : null;
  }

  /**
   * `choose` without building a view: the entry itself, read-only to the caller. Its host and port
   * are the current ones; pass its id to acquire/release/reportSuccess/reportFailure.
   */
  pick(exclude?: ReadonlySet<string> | null): BackendTarget | null {
    return this.pickEntry(exclude);
  }

  private pickEntry(exclude?: ReadonlySet<string> | null): BackendEntry | null {
    const list = this.ordered;
    const n = list.length;
    if (n === 0) return null;
    const now = Date.now();
    const start = this.rotation++ % n;
    if (this.rotation >= 0x3fffffff) this.rotation = 0;
    let best: BackendEntry | null = null;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      const entry = list[i]!;
      if (exclude && exclude.has(entry.id)) continue;
      if (this.stateOf(entry, now) !== 'ready') continue;
      if (!best || entry.activeConnections < best.activeConnections) best = entry;
    }
    return best;
  }

  /** Counts a connection as carried by `id` (call when the connect succeeded). */
  acquire(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.activeConnections++;
    entry.totalConnections++;
  }

  /** The connection counted by `acquire` is over. Safe after the backend left the set. */
  release(id: string): void {
    const entry = this.entries.get(id);
    if (entry && entry.activeConnections > 0) entry.activeConnections--;
  }

  /** Passive health: a connect to `id` failed; it is out of rotation for the cooldown. */
  reportFailure(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.failures++;
    entry.downUntil = Date.now() + this.options.failureCooldownMs;
    this.changed();
  }

  /** A connect to `id` succeeded. */
  reportSuccess(id: string): void {
    const entry = this.entries.get(id);
    if (!entry || (entry.failures === 0 && entry.downUntil === 0)) return;
    const wasDown = entry.downUntil > Date.now();
    entry.failures = 0;
    entry.downUntil = 0;
    if (wasDown) this.changed();
  }

  /** Administrative drain: no new connections; existing ones stay. Returns false for an unknown id. */
  drain(id: string, draining = true): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    entry.adminDraining = draining;
    this.changed();
    return true;
  }

  get(id: string): BackendView | null {
    const entry = this.entries.get(id);
    return entry ? this.view(entry, Date.now()) : null;
  }

  list(): BackendView[] {
    const now = Date.now();
    return [...this.entries.values()].map((e) => this.view(e, now));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts active health checks (no-op when they are disabled or already running). */
  startHealthChecks(): void {
    const hc = this.options.healthCheck;
    if (!hc || this.checkTimer) return;
    this.checkTimer = setInterval(() => void this.runChecks(hc), hc.intervalMs);
    this.checkTimer.unref();
    void this.runChecks(hc);
  }

  stopHealthChecks(): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
  }

  /** Runs one round of active checks now (also what the interval does). */
  async runChecks(hc: HealthCheckOptions | null = this.options.healthCheck): Promise<void> {
    if (!hc || this.checking) return;
    this.checking = true;
    try {
      const entries = [...this.entries.values()];
      const results = await Promise.all(entries.map((e) => probe(e, hc)));
      let changed = false;
      entries.forEach((entry, i) => {
        if (this.entries.get(entry.id) !== entry) return; // left the set meanwhile
        if (results[i]) {
          if (!entry.checkHealthy || entry.downUntil > 0) changed = true;
          entry.checkHealthy = true;
          entry.checkFailures = 0;
          entry.failures = 0;
          entry.downUntil = 0; // a positive check ends a passive cooldown early
        } else {
          entry.checkFailures++;
          entry.failures++;
          if (entry.checkHealthy && entry.checkFailures >= hc.fallThreshold) {
            entry.checkHealthy = false;
            changed = true;
          }
        }
      });
      if (changed) this.changed();
    } finally {
      this.checking = false;
    }
  }

  private stateOf(entry: BackendEntry, now: number): BackendState {
    if (entry.adminDraining || entry.discoveryState === 'draining') return 'draining';
    if (entry.discoveryState === 'down' || !entry.checkHealthy || entry.downUntil > now) return 'down';
    return 'ready';
  }

  private view(entry: BackendEntry, now: number): BackendView {
    return {
      id: entry.id,
      host: entry.host,
      port: entry.port,
      state: this.stateOf(entry, now),
      activeConnections: entry.activeConnections,
      totalConnections: entry.totalConnections,
      failures: entry.failures,
    };
  }

  private changed(): void {
    if (this.listenerCount('change') > 0) this.emit('change', this.list());
  }
}

/** One active check: a TCP connect, or an HTTP GET answered with 2xx. */
function probe(entry: BackendEntry, hc: HealthCheckOptions): Promise<boolean> {
  return new Promise((resolve) => {
    if (hc.kind === 'http' && entry.healthUrl) {
      const req = http.get(entry.healthUrl, { timeout: hc.timeoutMs }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      return;
    }
    const socket = net.connect({ host: entry.host, port: entry.port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), hc.timeoutMs);
    socket.once('connect', () => {
      if (!hc.sendProxyLocal) return done(true);
      clearTimeout(timer);
      resolve(true);
      // Close once the header is flushed; the front sees a LOCAL header, then EOF.
      socket.end(encodeProxyV2({ command: 'local' }), () => socket.destroy());
    });
    socket.on('error', () => done(false));
  });
}
