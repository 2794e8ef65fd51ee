// `lncluster balancer`: the public port. Fronts come from discovery (the back's embedded registry,
// Consul, or a static list); the data plane is the built-in balancer or HAProxy. SIGHUP reloads the
// configuration without dropping a connection.
import { onShutdown, printReady, setupRole, UsageError } from '../cli/role.js';
import type { Config } from '../config/keys.js';
import { loadConfig, splitHostPort } from '../config/load.js';
import type { Logger } from '../util/log.js';
import { startOpsServer } from '../util/ops-server.js';
import type { BackendSpec } from './backend-set.js';
import { registerBalancerMetrics } from './balancer-metrics.js';
import { DiscoverySetupError, discoveryFromConfig, embeddedEndpoint, followBackends } from './discovery-feed.js';
import { BalancerError, emptyStats, type BalancerStats, type BoundAddress } from './engine.js';
import { HaproxyError } from './haproxy.js';
import { createPlane, type DataPlane, type PlaneAddresses } from './planes.js';
import { BalancerSettingsError, balancerSettingsFromConfig, formatListen } from './settings.js';

/** How long start-up waits for the first discovery snapshot before reporting ready anyway. */
const FIRST_SNAPSHOT_WAIT_MS = 5_000;
/** Open connections get this long to finish on SIGTERM. */
const SHUTDOWN_GRACE_MS = 5_000;

interface Membership {
  /** Snapshots applied so far (0: none yet). */
  snapshots: number;
  backends: BackendSpec[];
}

/**
 * What decides which registry is followed; a reload restarts the feed when it changes. For the
 * embedded registry that includes the back's current admin URL (admin.json): a back restarted on a
 * new port is picked up by a SIGHUP.
 */
function discoveryKey(config: Config): string {
  let adminUrl = '';
  if (config.discovery === 'embedded') {
    try {
      adminUrl = embeddedEndpoint(config).adminUrl;
    } catch {
      // reported when the feed starts
    }
  }
  return JSON.stringify([config.discovery, adminUrl, config['discovery.static'], config['consul.url'], config['consul.token'], config['consul.datacenter']]);
}

/** Operator mistakes become one readable message (exit code 2) instead of a stack trace. */
function asUsage<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof DiscoverySetupError || error instanceof BalancerSettingsError) throw new UsageError(error.message);
    throw error;
  }
}

function describeAddresses(addresses: readonly BoundAddress[]): string[] {
  return addresses.map((a) => formatListen(a.host, a.port));
}

interface Feed {
  stop(): Promise<void>;
}

function startFeed(config: Config, plane: DataPlane, membership: Membership, log: Logger, onFirst: () => void): Feed {
  const discovery = discoveryFromConfig(config, log);
  const controller = new AbortController();
  const done = followBackends({
    discovery,
    log,
    signal: controller.signal,
    apply: async (backends) => {
      membership.snapshots++;
      membership.backends = backends;
      log.info({ fronts: backends.map((b) => `${b.id}@${formatListen(b.host, b.port)}${b.state === 'draining' ? ' (draining)' : ''}`) }, 'fronts from discovery');
      try {
        await plane.update(backends);
      } catch (error) {
        log.error({ reason: (error as Error).message }, 'data plane refused the fronts');
      }
      onFirst();
    },
  });
  return {
    async stop() {
      controller.abort();
      await discovery.close();
      await done;
    },
  };
}

export async function runBalancer(argv: string[]): Promise<number> {
  const { loaded, log } = setupRole('balancer', { argv });
  if (loaded.rest.length > 0) throw new UsageError(`unknown arguments for balancer: ${loaded.rest.join(' ')}`);
  let config = loaded.config;
  let settings = asUsage(() => balancerSettingsFromConfig(config));
  let plane: DataPlane;
  try {
    plane = createPlane(settings, log);
  } catch (error) {
    if (error instanceof BalancerError) throw new UsageError(error.message);
    throw error;
  }
  if (plane.dataPath.fallbackReason) {
    log.warn({ reason: plane.dataPath.fallbackReason }, 'native data path unavailable: forwarding through net.Socket (about twice the CPU per connection)');
  }
  const membership: Membership = { snapshots: 0, backends: [] };

  let addresses: PlaneAddresses;
  try {
    addresses = await plane.start();
  } catch (error) {
    if (error instanceof BalancerError || error instanceof HaproxyError) throw new UsageError(error.message);
    throw error;
  }
  plane.onFailure((reason) => {
    log.fatal({ reason }, 'data plane failed');
    process.exit(1);
  });

  let firstSnapshot!: () => void;
  const gotFirst = new Promise<void>((resolve) => (firstSnapshot = resolve));
  let feed: Feed;
  let feedKey = discoveryKey(config);
  try {
    feed = asUsage(() => startFeed(config, plane, membership, log, firstSnapshot));
  } catch (error) {
    await plane.close(0);
    throw error;
  }

  // The latest counters for /health, refreshed in the background (the data plane may be other processes).
  let latest: BalancerStats = emptyStats();
  const refresh = async () => {
    latest = await plane.stats().catch(() => latest);
  };
  const refresher = setInterval(() => void refresh(), 1_000);
  refresher.unref();
  registerBalancerMetrics(() => plane.stats(), plane.dataPath.path);

  const ops = splitHostPort(config['ops.listen']);
  const opsServer = await startOpsServer({
    host: ops.host,
    port: ops.port,
    readiness: () => [
      ...(membership.snapshots === 0 ? ['no answer from discovery yet'] : []),
      ...(membership.backends.some((b) => b.state !== 'draining' && b.state !== 'down') ? [] : ['no front to send peers to']),
    ],
    details: () => ({
      role: 'balancer',
      engine: plane.engine,
      dataPath: plane.dataPath.path,
      listen: describeAddresses(addresses.listen),
      tor: describeAddresses(addresses.tor),
      discovery: { kind: config.discovery, snapshots: membership.snapshots, fronts: membership.backends },
      connections: latest.activeConnections,
      backends: latest.backends,
    }),
  });

  let reloading = false;
  const reload = async (): Promise<void> => {
    if (reloading) return;
    reloading = true;
    try {
      const next = loadConfig({ argv }).config;
      const nextSettings = balancerSettingsFromConfig(next);
      addresses = await plane.reload(nextSettings);
      const nextKey = discoveryKey(next);
      if (nextKey !== feedKey) {
        await feed.stop();
        feed = startFeed(next, plane, membership, log, () => undefined);
        feedKey = nextKey;
      }
      config = next;
      settings = nextSettings;
      log.info({ listen: describeAddresses(addresses.listen), limits: settings.limits, idleTimeoutMs: settings.idleTimeoutMs, discovery: config.discovery }, 'configuration reloaded');
    } catch (error) {
      log.error({ reason: (error as Error).message }, 'reload failed: keeping the running configuration');
    } finally {
      reloading = false;
    }
  };
  process.on('SIGHUP', () => void reload());

  onShutdown(async () => {
    clearInterval(refresher);
    await feed.stop();
    await plane.close(SHUTDOWN_GRACE_MS);
    await opsServer.close();
  }, log);

  await Promise.race([gotFirst, new Promise((resolve) => setTimeout(resolve, FIRST_SNAPSHOT_WAIT_MS).unref())]);
  await refresh();
  log.info({ engine: plane.engine, dataPath: plane.dataPath.path, listen: describeAddresses(addresses.listen), tor: describeAddresses(addresses.tor), discovery: config.discovery, fronts: membership.backends.length }, 'balancer started');
  printReady({
    role: 'balancer',
    id: 'balancer',
    engine: plane.engine,
    dataPath: plane.dataPath.path,
    listen: describeAddresses(addresses.listen),
    tor: describeAddresses(addresses.tor)[0] ?? null,
    discovery: config.discovery,
    metrics: `${opsServer.url}/metrics`,
    health: `${opsServer.url}/health`,
  });
  return await new Promise<number>(() => undefined);
}
