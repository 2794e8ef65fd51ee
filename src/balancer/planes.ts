// The two data planes behind `lncluster balancer`, behind one small interface: the built-in one
// (BuiltinBalancer, plus a second instance for the Tor listener) and HAProxy driven through its
// runtime API. The role (main.ts) feeds both the same discovery snapshots.
import type { Logger } from '../util/log.js';
import type { BackendSpec, BackendState, BackendView } from './backend-set.js';
import { BuiltinBalancer } from './builtin.js';
import { emptyStats, type BalancerOptionsInput, type BalancerStats, type BoundAddress } from './engine.js';
import { HaproxyDataPlane } from './haproxy.js';
import type { BalancerSettings } from './settings.js';
import { mergeStats } from './workers.js';

export interface PlaneAddresses {
  listen: BoundAddress[];
  tor: BoundAddress[];
}

export interface DataPlane {
  readonly engine: 'builtin' | 'haproxy';
  /** Who moves the bytes ('native' or 'node' for the built-in engine, 'haproxy'), and why 'auto' fell back if it did. */
  readonly dataPath: { path: 'native' | 'node' | 'haproxy'; fallbackReason: string };
  start(): Promise<PlaneAddresses>;
  /** A complete membership snapshot from discovery. */
  update(backends: readonly BackendSpec[]): Promise<void>;
  /** Fresh counters and backend states. */
  stats(): Promise<BalancerStats>;
  /** New settings without dropping connections (what an engine cannot change is logged). */
  reload(settings: BalancerSettings): Promise<PlaneAddresses>;
  /** Stops accepting; open connections get `graceMs`. */
  close(graceMs: number): Promise<void>;
  /** Called once if the data plane dies on its own (HAProxy exiting). */
  onFailure(listener: (reason: string) => void): void;
}

/** The origin TLV of connections reaching the public listeners. */
const CLEARNET_ORIGIN = 'clearnet';
const TOR_ORIGIN = 'tor';

function builtinOptions(settings: BalancerSettings): BalancerOptionsInput {
  return {
    listen: settings.listen,
    origin: CLEARNET_ORIGIN,
    idleTimeoutMs: settings.idleTimeoutMs,
    limits: settings.limits,
    backends: { healthCheck: settings.healthCheck },
    workers: settings.workers,
    dataPath: settings.dataPath,
  };
}

/**
 * Every Tor connection comes from the local Tor daemon, so per-source limits would throttle all of
 * Tor as one client: only the global cap applies there.
 */
function torOptions(settings: BalancerSettings): BalancerOptionsInput {
  const cap = settings.limits.maxConnections;
  return {
    listen: settings.torListen ? [settings.torListen] : [],
    origin: TOR_ORIGIN,
    idleTimeoutMs: settings.idleTimeoutMs,
    limits: { ...settings.limits, maxConnectionsPerSource: cap, newConnectionsPerSecondPerSource: cap, newConnectionsBurstPerSource: cap },
    backends: { healthCheck: settings.healthCheck },
    workers: 1,
    dataPath: settings.dataPath,
  };
}

export class BuiltinPlane implements DataPlane {
  readonly engine = 'builtin' as const;
  private readonly main: BuiltinBalancer;
  private tor: BuiltinBalancer | null = null;
  private backends: BackendSpec[] = [];

  constructor(
    private settings: BalancerSettings,
    private readonly log: Logger,
  ) {
    this.main = new BuiltinBalancer(builtinOptions(settings));
  }

  get dataPath(): DataPlane['dataPath'] {
    return { path: this.main.dataPath, fallbackReason: this.main.fallbackReason };
  }

  async start(): Promise<PlaneAddresses> {
    const listen = await this.main.start();
    if (this.settings.torListen) {
      this.tor = new BuiltinBalancer(torOptions(this.settings), this.backends);
      try {
        await this.tor.start();
      } catch (error) {
        await this.main.close(0);
        throw error;
      }
    }
    return { listen, tor: this.tor?.addresses() ?? [] };
  }

  async update(backends: readonly BackendSpec[]): Promise<void> {
    this.backends = [...backends];
    this.main.updateBackends(backends);
    this.tor?.updateBackends(backends);
  }

  async stats(): Promise<BalancerStats> {
    const parts = [await this.main.refreshStats()];
    if (this.tor) parts.push(this.tor.stats());
    return parts.length === 1 ? parts[0]! : mergeStats(parts);
  }

  async reload(settings: BalancerSettings): Promise<PlaneAddresses> {
    if (settings.workers !== this.settings.workers) this.log.warn({ workers: this.settings.workers, wanted: settings.workers }, 'balancer.workers changes need a restart');
    if (settings.dataPath !== this.settings.dataPath) this.log.warn({ dataPath: this.main.dataPath, wanted: settings.dataPath }, 'balancer.data-path changes need a restart');
    if (JSON.stringify(settings.healthCheck) !== JSON.stringify(this.settings.healthCheck)) this.log.warn('health check changes (discovery kind) need a restart');
    const listen = await this.main.reload(builtinOptions(settings));
    if (settings.torListen && this.tor) {
      await this.tor.reload(torOptions(settings));
    } else if (settings.torListen) {
      this.tor = new BuiltinBalancer(torOptions(settings), this.backends);
      await this.tor.start();
    } else if (this.tor) {
      // Stop accepting Tor connections; the open ones are left to finish (up to an hour).
      void this.tor.close(3_600_000);
      this.tor = null;
    }
    this.settings = settings;
    return { listen, tor: this.tor?.addresses() ?? [] };
  }

  async close(graceMs: number): Promise<void> {
    await Promise.all([this.main.close(graceMs), this.tor?.close(graceMs)]);
  }

  onFailure(): void {
    // The built-in plane replaces its own dead workers; nothing fails outside this process.
  }
}

/** HAProxy can only take ports it is given: port 0 would bind somewhere we cannot learn. */
function checkHaproxyListen(settings: BalancerSettings): void {
  const zero = settings.listen.find((l) => l.port === 0);
  if (zero) throw new Error(`the haproxy engine needs explicit ports (balancer.listen ${zero.host}:0)`);
}

/** Most descriptors HAProxy gets: it refuses to start when maxconn needs more than the hard limit. */
const HAPROXY_MAX_CONNECTIONS = 8_000;

export class HaproxyPlane implements DataPlane {
  readonly engine = 'haproxy' as const;
  readonly dataPath = { path: 'haproxy' as const, fallbackReason: '' };
  private readonly haproxy: HaproxyDataPlane;
  private closing = false;
  private watchdog: NodeJS.Timeout | undefined;
  private failureListener: ((reason: string) => void) | undefined;
  private backends: BackendSpec[] = [];

  constructor(
    private settings: BalancerSettings,
    private readonly log: Logger,
  ) {
    checkHaproxyListen(settings);
    const maxConnections = Math.min(settings.limits.maxConnections, HAPROXY_MAX_CONNECTIONS);
    if (maxConnections < settings.limits.maxConnections) log.warn({ maxConnections }, `haproxy engine: balancer.max-connections capped at ${HAPROXY_MAX_CONNECTIONS}`);
    this.haproxy = new HaproxyDataPlane({ binary: settings.haproxyBinary, listen: settings.listen, maxConnections, threads: settings.workers });
  }

  async start(): Promise<PlaneAddresses> {
    this.log.info('haproxy engine: per-source limits and the idle timeout are not applied (HAProxy uses its own timeouts)');
    await this.haproxy.start();
    this.watchdog = setInterval(() => {
      if (this.closing || this.haproxy.pid !== null) return;
      clearInterval(this.watchdog);
      this.failureListener?.(`haproxy exited: ${this.haproxy.recentOutput().slice(-5).join(' | ')}`);
    }, 500);
    this.watchdog.unref();
    const listen = this.settings.listen.map((l) => ({ host: l.host, port: l.port, family: l.host.includes(':') ? 'IPv6' : 'IPv4' }));
    return { listen, tor: [] };
  }

  async update(backends: readonly BackendSpec[]): Promise<void> {
    this.backends = [...backends];
    const report = await this.haproxy.sync(backends);
    for (const error of report.errors) this.log.warn(error, 'haproxy: cannot apply a front');
    if (report.commands.length) this.log.debug({ commands: report.commands }, 'haproxy: runtime API');
  }

  async stats(): Promise<BalancerStats> {
    const stats = emptyStats();
    const lines = await this.haproxy.command('show stat').catch(() => [] as string[]);
    const rows = parseStatCsv(lines);
    const backendName = this.haproxy.options.backendName;
    const frontend = rows.find((r) => r['svname'] === 'FRONTEND');
    stats.activeConnections = Number(frontend?.['scur'] ?? 0) || 0;
    stats.acceptedTotal = Number(frontend?.['stot'] ?? 0) || 0;
    stats.refused.globalCap = Number(frontend?.['dreq'] ?? 0) || 0;
    stats.backends = this.backends.map((spec): BackendView => {
      const server = this.haproxy.serverFor(spec.id);
      const row = server ? rows.find((r) => r['pxname'] === backendName && r['svname'] === server) : undefined;
      const status = row?.['status'] ?? 'MAINT';
      const state: BackendState = /DRAIN/.test(status) ? 'draining' : /^UP|no check/.test(status) ? 'ready' : 'down';
      return {
        id: spec.id,
        host: spec.host,
        port: spec.port,
        state,
        activeConnections: Number(row?.['scur'] ?? 0) || 0,
        totalConnections: Number(row?.['stot'] ?? 0) || 0,
        failures: Number(row?.['econ'] ?? 0) || 0,
      };
    });
    stats.connectFailures = stats.backends.reduce((n, b) => n + b.failures, 0);
    return stats;
  }

  async reload(settings: BalancerSettings): Promise<PlaneAddresses> {
    const keyOf = (s: BalancerSettings) => JSON.stringify([s.listen, s.workers, s.haproxyBinary]);
    if (keyOf(settings) !== keyOf(this.settings)) this.log.warn('haproxy engine: listen, workers and binary changes need a restart');
    const maxConnections = Math.min(settings.limits.maxConnections, HAPROXY_MAX_CONNECTIONS);
    await this.haproxy.command(`set maxconn frontend lightning ${maxConnections}`).catch((error: Error) => this.log.warn({ reason: error.message }, 'haproxy: cannot set maxconn'));
    this.settings = { ...settings, listen: this.settings.listen, workers: this.settings.workers, haproxyBinary: this.settings.haproxyBinary };
    return { listen: this.settings.listen.map((l) => ({ host: l.host, port: l.port, family: l.host.includes(':') ? 'IPv6' : 'IPv4' })), tor: [] };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    await this.haproxy.stop();
  }

  onFailure(listener: (reason: string) => void): void {
    this.failureListener = listener;
  }
}

/** `show stat` CSV ("# pxname,svname,...") as records keyed by column name. */
export function parseStatCsv(lines: readonly string[]): Array<Record<string, string>> {
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) return [];
  const columns = header.slice(2).split(',');
  return lines
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const fields = line.split(',');
      const record: Record<string, string> = {};
      columns.forEach((name, i) => {
        if (name) record[name] = fields[i] ?? '';
      });
      return record;
    });
}

export function createPlane(settings: BalancerSettings, log: Logger): DataPlane {
  return settings.engine === 'haproxy' ? new HaproxyPlane(settings, log) : new BuiltinPlane(settings, log);
}
