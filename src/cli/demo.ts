import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeClusterCertificate } from '../cluster/certificate.js';
import { writeSecretFile } from '../cluster/files.js';
import { writeNodeKeyFile } from '../cluster/node-key.js';
import { UsageError } from './role.js';
import { DEMO_TOR_USAGE, demoFrontTorArgs, demoTorRoleArgs, emptyDemoTorOptions, parseDemoTorFlag, type DemoTorOptions } from '../tor/demo-tor.js';
import { DEMO_BALANCER_USAGE, demoBalancerArgs, demoFrontBalancerArgs, emptyDemoBalancerOptions, parseDemoBalancerFlag, waitForBalancerFronts, type DemoBalancerOptions } from '../balancer/demo-balancer.js';

/**
 * `lncluster demo`: a whole cluster on loopback, each role its own OS process. On first run it
 * creates what it needs in the data dir (node key, cluster certificate and password, admin
 * password); then it starts the back and N fronts, prints how to connect, and stops everything on
 * Ctrl-C. Roles log to <data-dir>/logs/<role>.log.
 */
export const DEMO_USAGE = `usage: lncluster demo [--port P] [--fronts N] [--data-dir DIR] [--network regtest|...] [--json] [--front.node-key local|delegated] ${DEMO_BALANCER_USAGE} ${DEMO_TOR_USAGE}`;

interface DemoOptions {
  port: number;
  fronts: number;
  dataDir: string;
  network: string;
  json: boolean;
  nodeKeyMode: string;
  logLevel: string;
  tor: DemoTorOptions;
  balancer: DemoBalancerOptions;
}

interface ReadyLine {
  event: 'ready';
  role: string;
  id: string;
  pid: number;
  [key: string]: unknown;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function parseDemoArgs(argv: string[]): DemoOptions {
  const options: DemoOptions = { port: 9735, fronts: 2, dataDir: '.lncluster', network: 'regtest', json: false, nodeKeyMode: 'delegated', logLevel: 'info', tor: emptyDemoTorOptions(), balancer: emptyDemoBalancerOptions() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : (argv[++i] ?? ''));
    switch (flag) {
      case '--port': options.port = Number(value()); break;
      case '--fronts': options.fronts = Number(value()); break;
      case '--data-dir': options.dataDir = value(); break;
      case '--network': options.network = value(); break;
      case '--json': options.json = true; break;
      case '--front.node-key': options.nodeKeyMode = value(); break;
      case '--log.level': options.logLevel = value(); break;
      default:
        if (parseDemoTorFlag(options.tor, flag, value)) break;
        if (parseDemoBalancerFlag(options.balancer, flag, value)) break;
        throw new UsageError(`unknown demo option ${arg}\n${DEMO_USAGE}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535 - options.fronts) throw new UsageError(`--port must be a port number, got ${options.port}`);
  if (!Number.isInteger(options.fronts) || options.fronts < 1 || options.fronts > 32) throw new UsageError(`--fronts must be 1..32, got ${options.fronts}`);
  if (!['bitcoin', 'testnet', 'signet', 'regtest'].includes(options.network)) throw new UsageError(`--network must be bitcoin, testnet, signet or regtest`);
  if (!['local', 'delegated'].includes(options.nodeKeyMode)) throw new UsageError(`--front.node-key must be local or delegated`);
  options.dataDir = resolve(options.dataDir);
  return options;
}

/** Creates the node key, cluster certificate and passwords on first run; keeps them afterwards. */
export async function prepareDataDir(dataDir: string): Promise<string[]> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const file = (name: string) => join(dataDir, name);
  if (!existsSync(file('node_key'))) {
    await writeNodeKeyFile(file('node_key'));
    created.push('node_key');
  }
  if (!existsSync(file('cluster.password'))) {
    await writeSecretFile(file('cluster.password'), randomBytes(24).toString('base64url') + '\n', false);
    created.push('cluster.password');
  }
  if (!existsSync(file('cluster.crt')) || !existsSync(file('cluster.key'))) {
    const { readFileSync } = await import('node:fs');
    const password = readFileSync(file('cluster.password'), 'utf8').trim();
    await writeClusterCertificate({ password, certFile: file('cluster.crt'), keyFile: file('cluster.key'), force: true });
    created.push('cluster.crt', 'cluster.key');
  }
  if (!existsSync(file('admin.password'))) {
    await writeSecretFile(file('admin.password'), randomBytes(24).toString('base64url') + '\n', false);
    created.push('admin.password');
  }
  return created;
}

export async function runDemo(argv: string[]): Promise<number> {
  const options = parseDemoArgs(argv);
  const created = await prepareDataDir(options.dataDir);
  const logDir = join(options.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const children: ChildProcess[] = [];
  let stopping = false;
  const common = ['--data-dir', options.dataDir, '--network', options.network, '--log.level', options.logLevel];

  const stopAll = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    const exits = children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r)));
    for (const child of children) child.kill('SIGTERM');
    const force = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 8_000);
    await Promise.all(exits);
    clearTimeout(force);
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const start = (role: string, name: string, args: string[]): Promise<ReadyLine> =>
    new Promise((resolveReady, reject) => {
      const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
      const child = spawn(process.execPath, [MAIN, role, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      child.stderr!.pipe(log);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as ReadyLine;
          if (parsed.event === 'ready') resolveReady(parsed);
        } catch {
          // not ours
        }
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`${name} exited (${signal ?? code}) before it was ready: see ${join(logDir, `${name}.log`)}`));
        if (!stopping) {
          process.stderr.write(`lncluster demo: ${name} exited (${signal ?? code}); see ${join(logDir, `${name}.log`)}\n`);
        }
      });
    });

  try {
    const back = await start('back', 'back', [...common, '--back.cluster-listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0']);
    const fronts = await Promise.all(
      Array.from({ length: options.fronts }, (_, i) =>
        start('front', `front-${i + 1}`, [
          ...common,
          '--front.id', `front-${i + 1}`,
          '--front.back', String(back['cluster']),
          '--front.listen', '127.0.0.1:0',
          '--front.node-key', options.nodeKeyMode,
          '--ops.listen', '127.0.0.1:0',
          ...demoFrontTorArgs(options.tor),
          ...demoFrontBalancerArgs(options.balancer),
        ]),
      ),
    );
    // Peers reach the fronts through the balancer (the fronts only take PROXY-headed connections from it).
    const balancer = await start('balancer', 'balancer', demoBalancerArgs(options.balancer, common, options.port, Boolean(options.tor.control)));
    if (!(await waitForBalancerFronts(String(balancer['health']), fronts.length))) process.stderr.write('lncluster demo: the balancer does not see every front yet; see logs/balancer.log\n');
    const torArgs = demoTorRoleArgs(options.tor, common, balancer['tor'] ? [String(balancer['tor'])] : fronts.map((f) => String(f['listen'])));
    const onionAddress = torArgs ? String((await start('tor', 'tor', torArgs))['onionAddress']) : undefined;
    const nodeId = String(back['nodeId']);
    const listen = String((balancer['listen'] as string[])[0]);
    const processes = [back, ...fronts, balancer].map((p) => ({ role: p.role, id: p.id, pid: p.pid, listen: p['listen'] ?? p['cluster'], metrics: p['metrics'] }));
    if (options.json) {
      process.stdout.write(JSON.stringify({ nodeId, listen, adminUrl: back['adminUrl'], dataDir: options.dataDir, processes, ...(onionAddress ? { onionAddress } : {}) }) + '\n');
    } else {
      process.stdout.write(
        [
          `lncluster demo running (${options.network}) with ${options.fronts} front(s)${created.length ? `; created ${created.join(', ')} in ${options.dataDir}` : ''}`,
          '',
          `  connect to:   ${nodeId}@${listen}`,
          `  fronts:       ${fronts.map((f) => String(f['listen'])).join(', ')} (behind the balancer; discovery: ${options.balancer.discovery})`,
          ...(onionAddress ? [`  over Tor:     ${nodeId}@${onionAddress}:9735`] : []),
          `  admin API:    ${String(back['adminUrl'])} (password in ${join(options.dataDir, 'admin.password')})`,
          `  cli:          npx lncluster cli --data-dir ${options.dataDir} getinfo`,
          `  logs:         ${logDir}`,
          '',
          'Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch (error) {
    process.stderr.write(`lncluster demo: ${(error as Error).message}\n`);
    await stopAll(1);
  }
  return await new Promise<number>(() => undefined);
}
