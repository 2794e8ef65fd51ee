/**
 * `lncluster tor`: runs beside Tor (same machine or Tor's own), keeps the node's onion service published
 * and reports its address to the back.
 *
 * Target: by default the built-in balancer's local Tor listener (`balancer.tor-listen`): one stable
 * target, health-aware, so membership changes never touch Tor (a DEL_ONION + ADD_ONION swap left new
 * circuits hanging for minutes in tests). `tor.targets` (one Port line per front, as eclair does) is the
 * alternative; Tor then picks among them at random without checking they are alive.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { onShutdown, printReady, setupRole, UsageError } from '../cli/role.js';
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import { getOrCreate } from '../util/metrics.js';
import { startOpsServer } from '../util/ops-server.js';
import { DEFAULT_REPORT_INTERVAL_MS, TorController, type TorControllerState } from './controller.js';
import { LIGHTNING_ONION_PORT, type OnionPortMapping } from './onion-service.js';
import { reportOnionAddress, resolveAdminEndpoint } from './onion-report.js';

const STATES: readonly TorControllerState[] = ['connecting', 'published', 'retrying', 'stopped'];
/** How long the ready line waits for the first report to the back (it is printed either way). */
const FIRST_REPORT_WAIT_MS = 5_000;

export interface TorRoleSettings {
  control: { host: string; port: number };
  passwordFile: string | undefined;
  keyFile: string;
  ports: OnionPortMapping[];
}

/** Works out what `lncluster tor` does from its configuration; misconfiguration is a UsageError. */
export function torSettingsFromConfig(config: Config): TorRoleSettings {
  if (config['tor.control'] === '') throw new UsageError('lncluster tor needs tor.control (Tor control port, e.g. --tor.control 127.0.0.1:9051)');
  const targets = config['tor.targets'].length > 0 ? config['tor.targets'] : config['balancer.tor-listen'] ? [config['balancer.tor-listen']] : [];
  if (targets.length === 0) {
    throw new UsageError('lncluster tor needs a target: balancer.tor-listen (the balancer\'s local Tor listener) or tor.targets (host:port of each front)');
  }
  for (const target of targets) {
    if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(target) || Number(target.slice(target.lastIndexOf(':') + 1)) < 1) {
      throw new UsageError(`bad onion target ${JSON.stringify(target)}: want host:port`);
    }
  }
  const dataDir = config['data-dir'];
  const keyFile = config['tor.key-file'] === '' ? join(dataDir, 'onion.key') : isAbsolute(config['tor.key-file']) ? config['tor.key-file'] : resolve(config['tor.key-file']);
  const passwordFile = config['tor.password-file'] === '' ? undefined : resolve(config['tor.password-file']);
  return {
    control: splitHostPort(config['tor.control']),
    passwordFile,
    keyFile,
    ports: targets.map((target) => ({ virtualPort: LIGHTNING_ONION_PORT, target })),
  };
}

export async function runTor(argv: string[]): Promise<number> {
  const { loaded, log } = setupRole('tor', { argv });
  if (loaded.rest.length > 0) throw new UsageError(`unknown arguments for tor: ${loaded.rest.join(' ')}`);
  const { config } = loaded;
  const settings = torSettingsFromConfig(config);
  const torLog = log.child({ module: 'tor' });

  const metrics = {
    state: getOrCreate('lncluster_tor_controller_state', (r) => new Gauge({ name: 'lncluster_tor_controller_state', help: '1 for the controller\'s current state', labelNames: ['state'], registers: [r] })),
    publications: getOrCreate('lncluster_tor_publications_total', (r) => new Counter({ name: 'lncluster_tor_publications_total', help: 'onion service publications (first and after each Tor restart)', registers: [r] })),
    retries: getOrCreate('lncluster_tor_retries_total', (r) => new Counter({ name: 'lncluster_tor_retries_total', help: 'failed connect/authenticate/publish attempts and dropped control connections', registers: [r] })),
    reported: getOrCreate('lncluster_tor_reported_to_back', (r) => new Gauge({ name: 'lncluster_tor_reported_to_back', help: '1 when the back acknowledged the current onion address', registers: [r] })),
  };
  const showState = (state: TorControllerState) => {
    for (const s of STATES) metrics.state.set({ state: s }, s === state ? 1 : 0);
  };
  showState('connecting');

  const controller = new TorController({
    publisher: {
      control: settings.control,
      keyFile: settings.keyFile,
      ports: settings.ports,
      auth: settings.passwordFile ? { passwordFile: settings.passwordFile } : {},
    },
    reportIntervalMs: DEFAULT_REPORT_INTERVAL_MS,
    report: async (address) =>
      reportOnionAddress(
        await resolveAdminEndpoint({ backAdminUrl: config['discovery.back-admin-url'], dataDir: config['data-dir'], passwordFile: config['back.admin-password-file'] }),
        address,
      ),
  });
  controller.on('state', showState);
  controller.on('published', (service) => {
    metrics.publications.inc();
    torLog.info({ onionAddress: service.onionAddress, createdKey: service.createdKey, targets: settings.ports.map((p) => p.target) }, 'onion service published');
  });
  controller.on('disconnected', (error) => torLog.warn({ reason: error.message }, 'control connection lost; publishing again when Tor is back'));
  controller.on('retry', (retry) => {
    metrics.retries.inc();
    torLog.warn({ attempt: retry.attempt, delayMs: retry.delayMs, reason: retry.error.message }, 'Tor not available; retrying');
  });
  controller.on('reported', (address) => {
    metrics.reported.set(address === null ? 0 : 1);
    torLog.debug({ onionAddress: address }, 'onion address reported to the back');
  });
  let lastReportError = '';
  controller.on('report-failed', (error) => {
    metrics.reported.set(0);
    // Logged once per distinct reason: a back that is down would otherwise fill the log every interval.
    if (error.message !== lastReportError) torLog.warn({ reason: error.message }, 'cannot report the onion address to the back; retrying');
    lastReportError = error.message;
  });

  const ops = await startOpsServer({
    ...splitHostPort(config['ops.listen']),
    readiness: () => (controller.status.state === 'published' ? [] : [`onion service not published (${controller.status.state}${controller.status.lastError ? `: ${controller.status.lastError}` : ''})`]),
    details: () => ({ role: 'tor', ...controller.status }),
  });

  const abort = new AbortController();
  const running = controller.run(abort.signal);
  onShutdown(async () => {
    abort.abort();
    await running;
    await ops.close();
  }, log);

  const first = await new Promise<string>((resolveFirst) => controller.once('published', (service) => resolveFirst(service.onionAddress)));
  const reported = await Promise.race([
    new Promise<boolean>((r) => controller.once('reported', () => r(true))),
    new Promise<boolean>((r) => controller.once('report-failed', () => r(false))),
    new Promise<boolean>((r) => setTimeout(() => r(false), FIRST_REPORT_WAIT_MS).unref()),
  ]);
  printReady({
    role: 'tor',
    id: 'tor',
    onionAddress: first,
    reportedToBack: reported,
    targets: settings.ports.map((p) => p.target),
    metrics: `${ops.url}/metrics`,
    health: `${ops.url}/health`,
  });
  return await new Promise<number>(() => undefined);
}
