// Prometheus metrics of the balancer role, read from the data plane's counters at scrape time (the
// data plane may live in other processes: workers, HAProxy), on the process's prom-client registry.
import { Counter, Gauge } from 'prom-client';
import { getOrCreate } from '../util/metrics.js';
import type { BalancerStats } from './engine.js';

const STATES = ['ready', 'draining', 'down'] as const;

/**
 * Registers the metrics; `read` is called once per scrape (all metrics share that one reading).
 * `dataPath` (native, node or haproxy) is published as an info metric.
 */
export function registerBalancerMetrics(read: () => Promise<BalancerStats>, dataPath: string): void {
  let pending: Promise<BalancerStats> | null = null;
  // One scrape collects every metric in turn: they share one reading instead of asking each time.
  const current = (): Promise<BalancerStats> => {
    if (!pending) {
      pending = read().finally(() => setTimeout(() => (pending = null), 100).unref());
    }
    return pending;
  };

  /** A counter whose value is a cumulative number read from the data plane. */
  const mirrored = (name: string, help: string, labelNames: string[], fill: (s: BalancerStats, set: (labels: Record<string, string>, value: number) => void) => void): void => {
    getOrCreate(name, (registers) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [registers],
        async collect() {
          const stats = await current();
          this.reset();
          fill(stats, (labels, value) => this.inc(labels, Math.max(0, value)));
        },
      }),
    );
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (s: BalancerStats, set: (labels: Record<string, string>, value: number) => void) => void): void => {
    getOrCreate(name, (registers) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registers],
        async collect() {
          const stats = await current();
          this.reset();
          fill(stats, (labels, value) => this.set(labels, value));
        },
      }),
    );
  };

  gauge('lncluster_balancer_data_path', '1 for the data path moving the bytes (native, node, haproxy)', ['path'], (_s, set) => set({ path: dataPath }, 1));
  gauge('lncluster_balancer_connections', 'client connections open now', [], (s, set) => set({}, s.activeConnections));
  gauge('lncluster_balancer_backend_connections', 'connections each front carries now', ['backend'], (s, set) => {
    for (const b of s.backends) set({ backend: b.id }, b.activeConnections);
  });
  gauge('lncluster_balancer_backend_state', '1 for the current state of each front (ready, draining, down)', ['backend', 'state'], (s, set) => {
    for (const b of s.backends) for (const state of STATES) set({ backend: b.id, state }, b.state === state ? 1 : 0);
  });
  gauge('lncluster_balancer_backend_up', '1 while a front takes new connections', ['backend'], (s, set) => {
    for (const b of s.backends) set({ backend: b.id }, b.state === 'ready' ? 1 : 0);
  });
  mirrored('lncluster_balancer_backend_chosen_total', 'connections sent to each front', ['backend'], (s, set) => {
    for (const b of s.backends) set({ backend: b.id }, b.totalConnections);
  });
  mirrored('lncluster_balancer_accepted_total', 'client connections accepted', [], (s, set) => set({}, s.acceptedTotal));
  mirrored('lncluster_balancer_forwarded_total', 'client connections forwarded to a front', [], (s, set) => set({}, s.forwardedTotal));
  mirrored('lncluster_balancer_refused_total', 'client connections refused, by reason', ['reason'], (s, set) => {
    set({ reason: 'global-cap' }, s.refused.globalCap);
    set({ reason: 'source-connections' }, s.refused.sourceConnections);
    set({ reason: 'source-rate' }, s.refused.sourceRate);
    set({ reason: 'no-backend' }, s.refused.noBackend);
  });
  mirrored('lncluster_balancer_connect_failures_total', 'failed connects to fronts (each retried on another front while one is left)', [], (s, set) => set({}, s.connectFailures));
  mirrored('lncluster_balancer_retries_total', 'connects retried on another front', [], (s, set) => set({}, s.retries));
  mirrored('lncluster_balancer_idle_timeouts_total', 'clients closed for sending nothing', [], (s, set) => set({}, s.idleTimeouts));
  mirrored('lncluster_balancer_bytes_total', 'bytes relayed, by direction (native data path: as relayed; node: when a connection closes)', ['direction'], (s, set) => {
    set({ direction: 'from-clients' }, s.bytesFromClients);
    set({ direction: 'to-clients' }, s.bytesToClients);
  });
}
