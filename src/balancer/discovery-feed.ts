// Discovery as the balancer (and fronts) use it: which registry the configuration names, and a
// feed that turns that registry's snapshots of healthy fronts into backend specs for a data plane.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import { Backoff, sleep } from '../discovery/async.js';
import { ConsulDiscovery, type ConsulDiscoveryOptions } from '../discovery/consul.js';
import { EmbeddedDiscovery } from '../discovery/embedded.js';
import { DiscoveryError } from '../discovery/errors.js';
import { SERVICES } from '../discovery/services.js';
import { StaticDiscovery } from '../discovery/static.js';
import type { Discovery, ServiceInstance } from '../discovery/types.js';
import type { Logger } from '../util/log.js';
import type { BackendSpec } from './backend-set.js';

export type DiscoveryKind = Config['discovery'];

export class DiscoverySetupError extends Error {
  override readonly name = 'DiscoverySetupError';
  constructor(
    readonly code: 'NO_BACK_ADMIN' | 'NO_ADMIN_PASSWORD' | 'BAD_STATIC_ENTRY',
    message: string,
  ) {
    super(message);
  }
}

/** Consul adapter options from `consul.*`; background errors (renewals, watches) go to the log. */
export function consulOptionsFromConfig(config: Config, log?: Logger): Partial<ConsulDiscoveryOptions> {
  return {
    url: config['consul.url'],
    ...(config['consul.token'] ? { token: config['consul.token'] } : {}),
    ...(config['consul.datacenter'] ? { datacenter: config['consul.datacenter'] } : {}),
    ...(log ? { onError: (err, context) => log.warn({ code: err.code, reason: err.message, ...context }, 'consul: will retry') } : {}),
  };
}

/** `discovery.static` entries, `id@host:port` each (IPv6 hosts in brackets). */
export function parseStaticFronts(entries: readonly string[]): ServiceInstance[] {
  return entries.map((entry) => {
    const match = /^([^@\s]+)@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry.trim());
    if (!match || Number(match[3]) < 1 || Number(match[3]) > 65535) {
      throw new DiscoverySetupError('BAD_STATIC_ENTRY', `discovery.static entry ${JSON.stringify(entry)} is not id@host:port`);
    }
    const { host, port } = splitHostPort(`${match[2]}:${match[3]}`);
    return { id: match[1]!, service: SERVICES.front, address: host, port, meta: { role: 'front' as const } };
  });
}

/** The back's admin URL and password for embedded discovery, from configuration or <data-dir>. */
export function embeddedEndpoint(config: Config): { adminUrl: string; password: string } {
  const dataDir = resolve(config['data-dir']);
  let adminUrl = config['discovery.back-admin-url'];
  if (!adminUrl) {
    const file = join(dataDir, 'admin.json');
    try {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { adminUrl?: unknown };
      if (typeof info.adminUrl === 'string') adminUrl = info.adminUrl;
    } catch {
      // reported below
    }
    if (!adminUrl) {
      throw new DiscoverySetupError('NO_BACK_ADMIN', `embedded discovery needs the back's admin URL: start the back first (it writes ${file}) or set discovery.back-admin-url`);
    }
  }
  const passwordFile = config['back.admin-password-file'] || join(dataDir, 'admin.password');
  let password: string;
  try {
    password = readFileSync(passwordFile, 'utf8').trim();
  } catch {
    throw new DiscoverySetupError('NO_ADMIN_PASSWORD', `embedded discovery cannot read the admin password file ${passwordFile} (back.admin-password-file)`);
  }
  return { adminUrl: adminUrl.replace(/\/+$/, ''), password };
}

/** The registry the configuration names (`discovery`). */
export function discoveryFromConfig(config: Config, log?: Logger): Discovery {
  switch (config.discovery) {
    case 'consul':
      return new ConsulDiscovery(consulOptionsFromConfig(config, log));
    case 'static':
      return new StaticDiscovery(parseStaticFronts(config['discovery.static']));
    case 'embedded':
      return new EmbeddedDiscovery({ ...embeddedEndpoint(config), resolveAdminUrl: () => embeddedEndpoint(config).adminUrl });
  }
}

/** Healthy fronts as backends: a front whose meta says draining becomes a draining backend. */
export function instancesToBackends(instances: readonly ServiceInstance[]): BackendSpec[] {
  return instances.map((instance) => ({
    id: instance.id,
    host: instance.address,
    port: instance.port,
    state: instance.meta.draining === true ? 'draining' : 'ready',
    ...(typeof instance.meta.healthUrl === 'string' && /^https?:\/\//.test(instance.meta.healthUrl) ? { healthUrl: instance.meta.healthUrl } : {}),
  }));
}

export interface BackendFeedOptions {
  discovery: Discovery;
  service?: string;
  /** Called with every complete snapshot, in order; the feed waits for it before the next one. */
  apply: (backends: BackendSpec[], index: number) => void | Promise<void>;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Follows the registry until `signal` aborts. Transient registry trouble is handled inside the
 * implementations (the last snapshot stays in force); a watch that ends with a configuration error
 * (bad token, refused password) is logged and retried with backoff, so fixing the registry side is
 * enough to recover.
 */
export async function followBackends(options: BackendFeedOptions): Promise<void> {
  const { discovery, signal, log } = options;
  const service = options.service ?? SERVICES.front;
  const backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  while (!signal.aborted) {
    try {
      for await (const snapshot of discovery.watch(service, signal)) {
        backoff.reset();
        await options.apply(instancesToBackends(snapshot.instances), snapshot.index);
      }
    } catch (error) {
      if (signal.aborted) return;
      const code = error instanceof DiscoveryError ? error.code : 'unknown';
      log.error({ code, reason: (error as Error).message }, 'discovery watch failed: retrying');
    }
    await sleep(backoff.next(), signal).catch(() => undefined);
  }
}
