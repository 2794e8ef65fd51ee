/**
 * The discovery interface: who is alive and healthy, with metadata.
 *
 * Every value crossing this interface is plain JSON (no class instances, no functions) so that the
 * embedded implementation can carry it over the cluster link as-is: a `register` becomes a request
 * frame, `updateMeta`/`deregister` become frames naming the registration id, and `watch` becomes a
 * subscription whose replies are `Snapshot` frames.
 */

export type InstanceRole = 'front' | 'back' | 'balancer' | 'tor';

export const INSTANCE_ROLES: readonly InstanceRole[] = ['front', 'back', 'balancer', 'tor'];

/** A metadata value. Registries such as Consul store meta as string -> string, so values are kept scalar. */
export type MetaValue = string | number | boolean | undefined;

export interface InstanceMeta {
  role: InstanceRole;
  /** Lightning node id (hex) that this instance serves. */
  nodeId?: string;
  /** host:port of the cluster link (fronts dial the back there). */
  clusterAddress?: string;
  /** URL of the instance's own health endpoint. */
  healthUrl?: string;
  /** Current load (e.g. active peer connections); lower is preferred. */
  load?: number;
  /** A draining instance takes no new connections but keeps its existing ones. */
  draining?: boolean;
  [key: string]: MetaValue;
}

export interface ServiceInstance {
  /** Unique id of this instance within the registry (e.g. "front-1"). */
  id: string;
  /** Service name shared by all instances of a role (e.g. "lncluster-front"). */
  service: string;
  /** Address peers or the balancer use to reach it. */
  address: string;
  port: number;
  meta: InstanceMeta;
}

export interface RegisterOptions {
  /**
   * Keep the instance healthy by renewing a TTL of this length (the registration renews it itself).
   * Ignored when `httpCheckUrl` is set.
   */
  ttlMs?: number;
  /** Let the registry probe this URL instead of a TTL (2xx = healthy). */
  httpCheckUrl?: string;
  /** Interval of the registry's HTTP probe. */
  httpCheckIntervalMs?: number;
  /** Remove the instance from the registry after it has been unhealthy this long. */
  deregisterCriticalAfterMs?: number;
  /** Cancels a registration that is still waiting for the registry to become reachable. */
  signal?: AbortSignal;
}

/** A live registration. It keeps itself healthy (and re-registers if the registry forgot it) until deregistered. */
export interface Registration {
  readonly id: string;
  /** Merge `meta` into the instance's metadata and publish it. `role` cannot be changed. */
  updateMeta(meta: Partial<Omit<InstanceMeta, 'role'>>): Promise<void>;
  /** Stop keeping the instance alive and remove it from the registry. Idempotent. */
  deregister(): Promise<void>;
}

export interface Snapshot {
  /** Strictly increasing for one watch (its own counter, not the registry's index, which may reset). */
  index: number;
  /** Every healthy instance of the service, sorted by id. Never a delta. */
  instances: ServiceInstance[];
}

export interface Discovery {
  register(instance: ServiceInstance, opts?: RegisterOptions): Promise<Registration>;
  /**
   * Healthy instances of `service`: a first snapshot as soon as it is known, then one per change.
   * The iteration ends (without error) when `signal` aborts. While the registry is unreachable no
   * snapshot is produced: the last one stays the best knowledge (callers run their own active checks).
   * Configuration errors (bad token, bad request) end the iteration with a DiscoveryError.
   */
  watch(service: string, signal: AbortSignal): AsyncIterable<Snapshot>;
  /** Release connections and timers held by the implementation (does not deregister anything). */
  close(): Promise<void>;
}
