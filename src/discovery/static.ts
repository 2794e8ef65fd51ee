/**
 * Discovery from a fixed list, for deployments where the set of instances is known in advance.
 * register() accepts anything valid and changes nothing (the list is the truth); watch() yields the
 * list's instances of the service once and then stays open until aborted, like a registry that never
 * changes.
 */
import { aborted } from './async.js';
import { DiscoveryError } from './errors.js';
import { cloneInstance, compareInstances, validateInstance } from './meta.js';
import type { Discovery, Registration, RegisterOptions, ServiceInstance, Snapshot } from './types.js';

export class StaticDiscovery implements Discovery {
  private readonly instances: readonly ServiceInstance[];
  private readonly closing = new AbortController();

  constructor(instances: readonly ServiceInstance[]) {
    const seen = new Set<string>();
    for (const instance of instances) {
      validateInstance(instance);
      const key = `${instance.service}\u0000${instance.id}`;
      if (seen.has(key)) {
        throw new DiscoveryError('DISCOVERY_INVALID_INSTANCE', `instance ${instance.id} of ${instance.service} is listed twice`);
      }
      seen.add(key);
    }
    this.instances = instances.map(cloneInstance);
  }

  async register(instance: ServiceInstance, _opts?: RegisterOptions): Promise<Registration> {
    validateInstance(instance);
    let deregistered = false;
    return {
      id: instance.id,
      updateMeta: async () => {
        if (deregistered) throw new DiscoveryError('DISCOVERY_DEREGISTERED', `instance ${instance.id} is deregistered`);
      },
      deregister: async () => {
        deregistered = true;
      },
    };
  }

  watch(service: string, signal: AbortSignal): AsyncIterable<Snapshot> {
    const instances = this.instances.filter((i) => i.service === service).sort(compareInstances);
    const stop = AbortSignal.any([signal, this.closing.signal]);
    return (async function* () {
      if (stop.aborted) return;
      // Each consumer gets its own copies: a caller mutating a snapshot must not change the next one's.
      yield { index: 1, instances: instances.map(cloneInstance) };
      await aborted(stop);
    })();
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}
