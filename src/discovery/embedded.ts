import { aborted, Backoff, sleep } from './async.js';
import { DiscoveryError } from './errors.js';
import type { Discovery, Registration, RegisterOptions, ServiceInstance, Snapshot } from './types.js';

/**
 * The default on one machine: the back is the registry. Fronts are registered by their cluster link
 * itself (a linked, heartbeating front is a healthy one), so `register` here changes nothing; watchers
 * (the balancer, the Tor controller) long-poll the back's admin API, `GET /api/discovery`, with the
 * same blocking semantics as Consul's health endpoint: `index` and `wait`, answered at once when the
 * registry moved past `index`.
 */
export interface EmbeddedDiscoveryOptions {
  /** The back's admin API base URL. */
  adminUrl: string;
  /**
   * Looks the URL up again after a failed request (a back restarted on another port writes a new
   * admin.json); default: keep `adminUrl`.
   */
  resolveAdminUrl?: () => string;
  password: string;
  waitMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

interface RegistryAnswer {
  index: number;
  instances: ServiceInstance[];
}

export class EmbeddedDiscovery implements Discovery {
  readonly #closing = new AbortController();
  constructor(private readonly options: EmbeddedDiscoveryOptions) {}

  async register(instance: ServiceInstance, _opts?: RegisterOptions): Promise<Registration> {
    return { id: instance.id, updateMeta: async () => undefined, deregister: async () => undefined };
  }

  watch(service: string, signal: AbortSignal): AsyncIterable<Snapshot> {
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    const options = this.options;
    return (async function* () {
      const backoff = new Backoff(options.backoff ?? { initialMs: 250, maxMs: 10_000 });
      let registryIndex = 0;
      let ownIndex = 0;
      let lastFingerprint: string | undefined;
      let adminUrl = options.adminUrl;
      while (!stop.aborted) {
        let answer: RegistryAnswer;
        try {
          const url = `${adminUrl}/api/discovery?service=${encodeURIComponent(service)}&index=${registryIndex}&wait=${options.waitMs ?? 30_000}`;
          const response = await fetch(url, {
            headers: { authorization: `Bearer ${options.password}` },
            signal: AbortSignal.any([stop, AbortSignal.timeout((options.waitMs ?? 30_000) + 10_000)]),
          });
          if (response.status === 401) throw new DiscoveryError('DISCOVERY_ACL', 'the back refused the admin password');
          if (!response.ok) throw new DiscoveryError('DISCOVERY_HTTP', `the back answered ${response.status}: ${await response.text()}`, { status: response.status });
          answer = (await response.json()) as RegistryAnswer;
        } catch (error) {
          if (stop.aborted) return;
          if (error instanceof DiscoveryError && !error.retryable) throw error;
          // A back that restarts starts its index again (and may listen elsewhere): ask for the current state.
          registryIndex = 0;
          try {
            adminUrl = options.resolveAdminUrl?.() ?? adminUrl;
          } catch {
            // keep the last known URL
          }
          await sleep(backoff.next(), stop).catch(() => undefined);
          continue;
        }
        backoff.reset();
        registryIndex = answer.index < registryIndex ? 0 : answer.index;
        const fingerprint = JSON.stringify(answer.instances);
        if (fingerprint !== lastFingerprint) {
          lastFingerprint = fingerprint;
          yield { index: ++ownIndex, instances: answer.instances };
        }
      }
      await aborted(stop);
    })();
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }
}
