import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per process, created with the process's default metrics (CPU, memory,
 * event-loop lag). Modules register their own counters on it through `metricsRegistry()`.
 */
let registry: Registry | undefined;

export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'lncluster_' }); // lncluster_process_cpu_seconds_total, lncluster_nodejs_...
  }
  return registry;
}

/** Returns the existing metric of that name, so modules created twice (tests) do not throw. */
export function getOrCreate<T>(name: string, create: (registry: Registry) => T): T {
  const existing = metricsRegistry().getSingleMetric(name);
  return (existing as T | undefined) ?? create(metricsRegistry());
}
