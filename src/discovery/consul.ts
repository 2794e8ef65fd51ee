/**
 * Discovery backed by a Consul agent.
 *
 * - register: the instance becomes a Consul service with one check, either a TTL that the registration
 *   renews itself (PUT /v1/agent/check/pass/service:<id>) or an HTTP check of the instance's health URL
 *   that the agent runs. DeregisterCriticalServiceAfter is always set, so an instance that died without
 *   deregistering is reaped by Consul.
 * - The registration survives the agent going away and coming back empty: a renewal answered with
 *   "Unknown check ID" (404) or "does not have associated TTL" (500, older agents) re-registers it; in
 *   HTTP-check mode the registration looks for itself in /v1/agent/services.
 * - watch: blocking queries on /v1/health/service/<name>?passing=true, following Consul's rules for
 *   X-Consul-Index (reset to 0 when it goes backwards, never block on 0), rate limited by a token
 *   bucket, with exponential backoff on errors. After a transport error the next query does not block,
 *   because the agent that answers may be a fresh one whose indexes restarted.
 */
import { Backoff, TokenBucket, sleep } from './async.js';
import { ConsulApi, toDiscoveryError, type ServiceRegistrationBody } from './consul-api.js';
import { DiscoveryError } from './errors.js';
import { cloneInstance, compareInstances, decodeMeta, encodeMeta, instancesFingerprint, validateInstance } from './meta.js';
import type { Discovery, InstanceMeta, Registration, RegisterOptions, ServiceInstance, Snapshot } from './types.js';

export interface ConsulDiscoveryOptions {
  /** Agent HTTP API address. */
  url: string;
  /** ACL token (X-Consul-Token). */
  token?: string;
  /** Datacenter to query (?dc=); the agent's own by default. */
  datacenter?: string;
  /** Timeout of non-blocking requests. */
  requestTimeoutMs: number;
  /** `wait` of blocking queries (Consul caps it at 10 minutes). */
  watchWaitMs: number;
  /** Token-bucket refill period of a watch: under churn, at most one query per period (burst 2). */
  watchMinIntervalMs: number;
  /** Backoff after errors: first delay and cap. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** TTL used when register() gets neither ttlMs nor httpCheckUrl. */
  defaultTtlMs: number;
  /** Interval of HTTP checks when register() does not give one. */
  defaultHttpCheckIntervalMs: number;
  /** DeregisterCriticalServiceAfter when register() does not give one (Consul enforces at least 1 minute). */
  defaultDeregisterCriticalAfterMs: number;
  /** Errors that are retried in the background (renewal failures, watch errors) are reported here. */
  onError?: (err: DiscoveryError, context: ConsulErrorContext) => void;
}

export interface ConsulErrorContext {
  operation: 'register' | 'renew' | 'update-meta' | 'watch';
  /** Instance id (registrations) or service name (watches). */
  subject: string;
}

export const CONSUL_DISCOVERY_DEFAULTS: Omit<ConsulDiscoveryOptions, 'onError' | 'token' | 'datacenter'> = {
  url: 'http://127.0.0.1:8500',
  requestTimeoutMs: 10_000,
  watchWaitMs: 55_000,
  watchMinIntervalMs: 1_000,
  backoffInitialMs: 250,
  backoffMaxMs: 30_000,
  defaultTtlMs: 10_000,
  defaultHttpCheckIntervalMs: 5_000,
  defaultDeregisterCriticalAfterMs: 60_000,
};

/** The shortest TTL accepted: renewals go out every TTL/3. */
const MIN_TTL_MS = 150;

export class ConsulDiscovery implements Discovery {
  private readonly options: ConsulDiscoveryOptions;
  private readonly api: ConsulApi;
  private readonly closing = new AbortController();
  private readonly registrations = new Set<ConsulRegistration>();

  constructor(options: Partial<ConsulDiscoveryOptions> = {}) {
    this.options = { ...CONSUL_DISCOVERY_DEFAULTS, ...stripUndefined(options) };
    for (const key of ['requestTimeoutMs', 'watchWaitMs', 'backoffInitialMs', 'backoffMaxMs', 'defaultTtlMs', 'defaultHttpCheckIntervalMs'] as const) {
      if (!(this.options[key] > 0)) throw new DiscoveryError('DISCOVERY_BAD_REQUEST', `${key} must be > 0`);
    }
    if (!(this.options.watchMinIntervalMs >= 0)) throw new DiscoveryError('DISCOVERY_BAD_REQUEST', 'watchMinIntervalMs must be >= 0');
    this.api = new ConsulApi({
      url: this.options.url,
      requestTimeoutMs: this.options.requestTimeoutMs,
      ...(this.options.token ? { token: this.options.token } : {}),
      ...(this.options.datacenter ? { datacenter: this.options.datacenter } : {}),
    });
  }

  async register(instance: ServiceInstance, opts: RegisterOptions = {}): Promise<Registration> {
    if (this.closing.signal.aborted) throw new DiscoveryError('DISCOVERY_ABORTED', 'discovery is closed');
    validateInstance(instance);
    const check = this.checkFor(opts);
    const registration = new ConsulRegistration(this.api, cloneInstance(instance), check, this.options, (r) => this.registrations.delete(r));
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closing.signal]) : this.closing.signal;
    this.registrations.add(registration);
    try {
      await registration.start(signal);
    } catch (err) {
      registration.stopKeeping();
      throw err;
    }
    return registration;
  }

  watch(service: string, signal: AbortSignal): AsyncIterable<Snapshot> {
    if (typeof service !== 'string' || service.length === 0 || /[\u0000-\u001f/?#]/.test(service)) {
      throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', 'service name must be a non-empty string without / ? # or control characters');
    }
    return this.watchLoop(service, AbortSignal.any([signal, this.closing.signal]));
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const registration of this.registrations) registration.stopKeeping();
    this.registrations.clear();
    this.api.close();
  }

  private checkFor(opts: RegisterOptions): ServiceRegistrationBody['check'] {
    const deregisterAfterMs = opts.deregisterCriticalAfterMs ?? this.options.defaultDeregisterCriticalAfterMs;
    if (!(deregisterAfterMs > 0)) throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', 'deregisterCriticalAfterMs must be > 0');
    if (opts.httpCheckUrl !== undefined) {
      let url: URL;
      try {
        url = new URL(opts.httpCheckUrl);
      } catch {
        throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', 'httpCheckUrl must be an absolute URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', 'httpCheckUrl must be http: or https:');
      }
      const intervalMs = opts.httpCheckIntervalMs ?? this.options.defaultHttpCheckIntervalMs;
      if (!(intervalMs > 0)) throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', 'httpCheckIntervalMs must be > 0');
      // A probe slower than its interval would overlap the next one.
      return { kind: 'http', url: url.toString(), intervalMs, timeoutMs: Math.min(intervalMs, this.options.requestTimeoutMs), deregisterAfterMs };
    }
    const ttlMs = opts.ttlMs ?? this.options.defaultTtlMs;
    if (!(ttlMs >= MIN_TTL_MS)) throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', `ttlMs must be >= ${MIN_TTL_MS}`);
    return { kind: 'ttl', ttlMs, deregisterAfterMs };
  }

  private report(err: DiscoveryError, context: ConsulErrorContext): void {
    try {
      this.options.onError?.(err, context);
    } catch {
      // A failing reporter must not break the loops that call it.
    }
  }

  private async *watchLoop(service: string, signal: AbortSignal): AsyncGenerator<Snapshot, void, undefined> {
    const bucket = new TokenBucket(this.options.watchMinIntervalMs);
    const backoff = new Backoff({ initialMs: this.options.backoffInitialMs, maxMs: this.options.backoffMaxMs });
    let index = 0n;
    let sequence = 0;
    let lastFingerprint: string | undefined;

    // On error: report, query without blocking next time, and wait (false when aborted meanwhile).
    const recover = async (err: DiscoveryError): Promise<boolean> => {
      this.report(err, { operation: 'watch', subject: service });
      index = 0n;
      try {
        await sleep(backoff.next(), signal);
        return true;
      } catch {
        return false;
      }
    };

    while (!signal.aborted) {
      try {
        await bucket.take(signal);
      } catch {
        return;
      }
      let result;
      try {
        result = await this.api.healthService(service, { index, waitMs: this.options.watchWaitMs, signal });
      } catch (caught) {
        const err = toDiscoveryError('health service', caught);
        if (signal.aborted || err.code === 'DISCOVERY_ABORTED') return;
        if (err.code === 'DISCOVERY_ACL' || err.code === 'DISCOVERY_BAD_REQUEST') throw err;
        if (!(await recover(err))) return;
        continue;
      }
      if (result.index === undefined) {
        if (!(await recover(new DiscoveryError('DISCOVERY_BAD_RESPONSE', 'consul health service: no X-Consul-Index header')))) return;
        continue;
      }
      const instances = parseHealthService(result.body);
      if (instances === undefined) {
        if (!(await recover(new DiscoveryError('DISCOVERY_BAD_RESPONSE', 'consul health service: body is not a list of service entries')))) return;
        continue;
      }
      // Consul's blocking-query rules: an index that goes backwards restarts the loop from 0; an index
      // of 0 would never block, so it is raised to 1.
      index = result.index < index ? 0n : result.index > 0n ? result.index : 1n;
      backoff.reset();
      const fingerprint = instancesFingerprint(instances);
      if (fingerprint !== lastFingerprint) {
        lastFingerprint = fingerprint;
        yield { index: ++sequence, instances };
      }
    }
  }
}

/**
 * Turns the health endpoint's body into instances. Entries that were not registered by lncluster
 * (no valid role in meta) are skipped; duplicate ids keep the first. Undefined when the body is not a list.
 */
export function parseHealthService(body: unknown): ServiceInstance[] | undefined {
  if (!Array.isArray(body)) return undefined;
  const byId = new Map<string, ServiceInstance>();
  for (const entry of body) {
    if (entry === null || typeof entry !== 'object') continue;
    const svc = (entry as { Service?: unknown }).Service;
    const node = (entry as { Node?: unknown }).Node;
    if (svc === null || typeof svc !== 'object') continue;
    const s = svc as Record<string, unknown>;
    const id = s['ID'];
    const name = s['Service'];
    const port = s['Port'];
    if (typeof id !== 'string' || id === '' || typeof name !== 'string' || typeof port !== 'number') continue;
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    // An empty service address means "the node's address" in Consul.
    let address = typeof s['Address'] === 'string' ? s['Address'] : '';
    if (address === '' && node !== null && typeof node === 'object') {
      const nodeAddress = (node as Record<string, unknown>)['Address'];
      if (typeof nodeAddress === 'string') address = nodeAddress;
    }
    if (address === '') continue;
    const meta = decodeMeta(s['Meta']);
    if (meta === undefined) continue;
    if (!byId.has(id)) byId.set(id, { id, service: name, address, port, meta });
  }
  return [...byId.values()].sort(compareInstances);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function agentForgot(err: DiscoveryError): boolean {
  // 404 "Unknown check ID ..." (current agents); 500 "CheckID ... does not have associated TTL" (older
  // agents, or a check that is no longer ours).
  return err.status === 404 || (err.status === 500 && /does not have associated TTL/i.test(err.registryMessage ?? ''));
}

class ConsulRegistration implements Registration {
  readonly id: string;
  private readonly checkId: string;
  private stopped = false;
  /** Set when the agent may hold stale data (meta update failed): the next tick re-registers. */
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  /** Serialises renewals, meta updates and deregistration so none interleave. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: ConsulApi,
    private instance: ServiceInstance,
    private readonly check: ServiceRegistrationBody['check'],
    private readonly options: ConsulDiscoveryOptions,
    private readonly onStopped: (r: ConsulRegistration) => void,
  ) {
    this.id = instance.id;
    // The id Consul gives the single check of a service registered with `Check`.
    this.checkId = `service:${instance.id}`;
  }

  /** First registration: retries while the agent is unreachable, fails at once on configuration errors. */
  async start(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: this.options.backoffInitialMs, maxMs: this.options.backoffMaxMs });
    for (;;) {
      try {
        await this.publish();
        break;
      } catch (caught) {
        const err = toDiscoveryError('register', caught);
        if (!err.retryable) throw err;
        this.report(err, 'register');
        await sleep(backoff.next(), signal);
      }
    }
    if (this.stopped) return;
    this.schedule();
  }

  async updateMeta(meta: Partial<Omit<InstanceMeta, 'role'>>): Promise<void> {
    if (this.stopped) throw new DiscoveryError('DISCOVERY_DEREGISTERED', `instance ${this.id} is deregistered`);
    const merged: InstanceMeta = { ...this.instance.meta, ...meta, role: this.instance.meta.role };
    encodeMeta(merged);
    this.instance = { ...this.instance, meta: merged };
    this.dirty = true;
    await this.enqueue(async () => {
      if (this.stopped) throw new DiscoveryError('DISCOVERY_DEREGISTERED', `instance ${this.id} is deregistered`);
      await this.publish();
    });
  }

  async deregister(): Promise<void> {
    if (this.stopped) return;
    this.stopKeeping();
    await this.enqueue(async () => {
      try {
        await this.api.deregister(this.id);
      } catch (caught) {
        const err = toDiscoveryError('deregister', caught);
        // The agent no longer knows the service (restarted, or reaped it): already the wanted state.
        if (err.status === 404) return;
        throw err;
      }
    });
  }

  stopKeeping(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.onStopped(this);
  }

  /** Registers (or re-registers) the current definition and, for TTL checks, marks it passing at once. */
  private async publish(): Promise<void> {
    const body: ServiceRegistrationBody = {
      id: this.instance.id,
      name: this.instance.service,
      address: this.instance.address,
      port: this.instance.port,
      meta: encodeMeta(this.instance.meta),
      check: this.check,
    };
    this.dirty = false;
    try {
      await this.api.register(body);
      // A new TTL check starts critical; passing it now makes the instance visible without waiting a tick.
      if (this.check.kind === 'ttl') await this.api.passTtl(this.checkId, 'registered');
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  private renewIntervalMs(): number {
    return this.check.kind === 'ttl' ? Math.floor(this.check.ttlMs / 3) : this.check.intervalMs;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(() => this.renew()).finally(() => this.schedule());
    }, this.renewIntervalMs());
    // Keeping an instance alive must not keep the process alive on its own.
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.dirty) {
        await this.publish();
      } else if (this.check.kind === 'ttl') {
        try {
          await this.api.passTtl(this.checkId, 'alive');
        } catch (caught) {
          const err = toDiscoveryError('check pass', caught);
          if (!agentForgot(err)) throw err;
          await this.publish();
        }
      } else {
        // HTTP checks are run by the agent; all we can lose is the registration itself.
        const known = await this.api.agentServiceIds();
        if (!known.has(this.id)) await this.publish();
      }
    } catch (caught) {
      if (!this.stopped) this.report(toDiscoveryError('renew', caught), 'renew');
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private report(err: DiscoveryError, operation: ConsulErrorContext['operation']): void {
    try {
      this.options.onError?.(err, { operation, subject: this.id });
    } catch {
      // A failing reporter must not break the keeper.
    }
  }
}
