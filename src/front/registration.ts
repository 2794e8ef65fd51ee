// A front announces itself to Consul when `discovery = consul`: one service instance under
// SERVICES.front, kept healthy by a TTL the front renews (or by Consul polling the front's ready
// endpoint with `consul.check = http`), removed on a clean exit. With embedded discovery the back's
// link registry already is the registry, and a static list needs nothing: no registration then.
import { consulOptionsFromConfig } from '../balancer/discovery-feed.js';
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import { ConsulDiscovery } from '../discovery/consul.js';
import { SERVICES } from '../discovery/services.js';
import type { Discovery, InstanceMeta, Registration, ServiceInstance } from '../discovery/types.js';
import type { Logger } from '../util/log.js';

export interface FrontRegistrationInput {
  config: Config;
  log: Logger;
  frontId: string;
  /** The front's advertised peer address, host:port (what the balancer connects to). */
  listen: string;
  /** The front's ops server base URL (its /ready is the health URL). */
  opsUrl: string;
  /** The node id this front serves, when known at registration (node key, `node-id`, or learned from the back). */
  nodeId?: string;
  /** The back already drains this front (it relinked while drained): published from the first registration. */
  draining?: boolean;
  /** For tests: another Discovery than the one the configuration names. */
  discovery?: Discovery;
}

export interface FrontRegistration {
  /**
   * Merges `meta` into the published instance (after a registration still in progress). Never rejects:
   * a failure is logged, and the Consul registration publishes the merged meta again with its next renewal.
   */
  updateMeta(meta: Partial<Omit<InstanceMeta, 'role'>>): Promise<void>;
  /** Removes the instance from the registry (waits for a registration still in progress to be cancelled). */
  deregister(): Promise<void>;
}

/** The instance a front publishes. */
export function frontInstance(input: Omit<FrontRegistrationInput, 'config' | 'log' | 'discovery'> & { clusterAddress: string }): ServiceInstance {
  const { host, port } = splitHostPort(input.listen);
  return {
    id: input.frontId,
    service: SERVICES.front,
    address: host,
    port,
    meta: {
      role: 'front',
      ...(input.nodeId ? { nodeId: input.nodeId } : {}),
      ...(input.draining ? { draining: true } : {}),
      clusterAddress: input.clusterAddress,
      // Ready rather than merely alive: a front that lost its back refuses new peers.
      healthUrl: `${input.opsUrl}/ready`,
    },
  };
}

/**
 * Registers the front in the background (a Consul agent that is down at start must not keep the
 * front from serving; the adapter retries) and returns the handle to deregister it. Null when the
 * configured discovery needs no registration.
 */
export function registerFront(input: FrontRegistrationInput): FrontRegistration | null {
  const { config, log } = input;
  if (config.discovery !== 'consul' && !input.discovery) return null;
  const discovery = input.discovery ?? new ConsulDiscovery(consulOptionsFromConfig(config, log));
  const instance = frontInstance({ ...input, clusterAddress: config['front.back'] });
  const cancel = new AbortController();
  const opts =
    config['consul.check'] === 'http'
      ? { httpCheckUrl: String(instance.meta.healthUrl), httpCheckIntervalMs: Math.max(1_000, Math.floor(config['consul.ttl-ms'] / 2)), signal: cancel.signal }
      : { ttlMs: config['consul.ttl-ms'], signal: cancel.signal };
  const pending: Promise<Registration | null> = discovery.register(instance, opts).then(
    (registration) => {
      log.info({ id: instance.id, address: `${instance.address}:${instance.port}`, check: config['consul.check'] }, 'registered in discovery');
      return registration;
    },
    (error: Error) => {
      if (!cancel.signal.aborted) log.error({ reason: error.message }, 'cannot register in discovery: the balancer will not see this front');
      return null;
    },
  );
  let done: Promise<void> | undefined;
  return {
    async updateMeta(meta) {
      const registration = await pending;
      // Not registered (failed, already logged) or leaving: nothing to update.
      if (!registration || cancel.signal.aborted) return;
      try {
        await registration.updateMeta(meta);
        log.info({ id: instance.id, meta }, 'discovery metadata updated');
      } catch (error) {
        if (cancel.signal.aborted) return;
        log.warn({ id: instance.id, meta, reason: (error as Error).message }, 'cannot update discovery metadata now (the registration publishes it again with its next renewal)');
      }
    },
    deregister() {
      done ??= (async () => {
        cancel.abort();
        const registration = await pending;
        try {
          await registration?.deregister();
          if (registration) log.info({ id: instance.id }, 'deregistered from discovery');
        } catch (error) {
          log.warn({ reason: (error as Error).message }, 'deregistration failed: the registry will reap this front');
        } finally {
          await discovery.close();
        }
      })();
      return done;
    },
  };
}
