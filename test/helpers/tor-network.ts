/**
 * A private Tor network on 127.0.0.1 for end-to-end tests, laid out as Tor's chutney tool does for its
 * minimal onion-service networks: 3 directory authorities (which are relays too), 3 relays, one tor for
 * onion services, one client tor with a SOCKS port. TestingTorNetwork 1 with a 10 s voting interval: a
 * consensus within seconds, the whole network bootstrapped in 15-35 s, well under 0.5 GB.
 *
 * - Authority keys come from `tor-gencert`, relay fingerprints from `tor --list-fingerprint`, before any
 *   tor starts, so every torrc carries the same three DirAuthority lines.
 * - Readiness is read from Tor's own log ("Bootstrapped 100%"), never a sleep; every wait has a deadline.
 * - Every tor is a child started here, killed by PID (SIGKILL) in stop(); each also carries
 *   __OwningControllerProcess so it exits by itself if the test process dies without its teardown.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../tor/tor-process.js';

const execFileAsync = promisify(execFile);

export type TorNodeRole = 'authority' | 'relay' | 'onion-service' | 'client';

export interface TorNode {
  readonly name: string;
  readonly role: TorNodeRole;
  readonly dataDir: string;
  readonly controlPort: number;
  readonly socksPort: number | undefined;
  readonly orPort: number | undefined;
  readonly pid: number;
  /** Everything tor logged (notice level), the last 256 KiB. */
  log(): string;
  /** Resolves when the log matches (already or later); rejects at the deadline or if tor exits. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  readonly cookieFile: string;
  kill(): Promise<void>;
}

export interface PrivateTorNetwork {
  readonly root: string;
  readonly authorities: readonly TorNode[];
  readonly relays: readonly TorNode[];
  readonly onionService: TorNode;
  readonly client: TorNode;
  readonly nodes: readonly TorNode[];
  /** Tail of every node's log, for failure messages. */
  describe(lines?: number): string;
  /** Kills every tor (by PID) and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

export interface PrivateTorNetworkOptions {
  /** Deadline for the client and the onion-service tor to reach "Bootstrapped 100%". */
  bootstrapTimeoutMs?: number;
  /** Keep the folder after stop() (debugging). */
  keepFiles?: boolean;
  /** The client's SOCKS port, when the caller needs it before the network is up (fronts started in parallel). */
  clientSocksPort?: number;
}

export async function findTorGencert(torBin: string): Promise<string | undefined> {
  for (const candidate of [process.env['TOR_GENCERT_BIN'], path.join(path.dirname(torBin), 'tor-gencert'), '/usr/bin/tor-gencert', '/usr/sbin/tor-gencert']) {
    if (!candidate) continue;
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

const MAX_LOG = 256 * 1024;

function commonTorrc(dataDir: string, nickname: string, controlPort: number, authorityLines: readonly string[]): string[] {
  return [
    'TestingTorNetwork 1',
    // chutney's fast-bootstrap options: every relay is reachable, a guard, an HSDir; 2/3 of paths suffice.
    'AssumeReachable 1',
    'PathsNeededToBuildCircuits 0.67',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteHSDir *',
    'TestingDirAuthVoteGuard *',
    'TestingMinExitFlagThreshold 0',
    'V3AuthNIntervalsValid 2',
    `DataDirectory ${dataDir}`,
    `Nickname ${nickname}`,
    'RunAsDaemon 0',
    'ShutdownWaitLength 0',
    `ControlPort 127.0.0.1:${controlPort}`,
    'CookieAuthentication 1',
    'Log notice stdout',
    'SafeLogging 0',
    'LogTimeGranularity 1',
    'AvoidDiskWrites 1',
    `__OwningControllerProcess ${process.pid}`,
    ...authorityLines,
  ];
}

interface NodePlan {
  name: string;
  role: TorNodeRole;
  dataDir: string;
  controlPort: number;
  orPort?: number;
  dirPort?: number;
  socksPort?: number;
}

export async function startPrivateTorNetwork(torBin: string, options: PrivateTorNetworkOptions = {}): Promise<PrivateTorNetwork> {
  const gencert = await findTorGencert(torBin);
  if (!gencert) throw new Error('tor-gencert not found (Debian: part of the tor package; or set TOR_GENCERT_BIN)');
  const bootstrapTimeoutMs = options.bootstrapTimeoutMs ?? 120_000;
  const root = await mkdtemp(path.join(os.tmpdir(), 'lncluster-tornet-'));
  await chmod(root, 0o700);
  const nodes: TorNode[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => n.kill()));
    if (!options.keepFiles) await rm(root, { recursive: true, force: true });
  };

  try {
    const plans: NodePlan[] = [];
    const plan = async (name: string, role: TorNodeRole): Promise<NodePlan> => {
      const dataDir = path.join(root, name);
      await mkdir(path.join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
      const p: NodePlan = { name, role, dataDir, controlPort: await freePort() };
      if (role === 'authority' || role === 'relay') {
        p.orPort = await freePort();
        p.dirPort = await freePort();
      }
      if (role === 'client') p.socksPort = options.clientSocksPort ?? (await freePort());
      plans.push(p);
      return p;
    };
    const authorities = await Promise.all([0, 1, 2].map((i) => plan(`auth${i}`, 'authority')));
    await Promise.all([0, 1, 2].map((i) => plan(`relay${i}`, 'relay')));
    await plan('hs', 'onion-service');
    await plan('client', 'client');

    // Authority identities (tor-gencert) and relay fingerprints, before any tor runs.
    const authorityLines = await Promise.all(
      authorities.map(async (a) => {
        const keys = path.join(a.dataDir, 'keys');
        await new Promise<void>((resolve, reject) => {
          const child = execFile(
            gencert,
            ['--create-identity-key', '--passphrase-fd', '0', '-i', path.join(keys, 'authority_identity_key'), '-s', path.join(keys, 'authority_signing_key'),
              '-c', path.join(keys, 'authority_certificate'), '-m', '12', '-a', `127.0.0.1:${a.dirPort}`],
            (error) => (error ? reject(error) : resolve()),
          );
          child.stdin!.end('\n');
        });
        const certificate = await readFile(path.join(keys, 'authority_certificate'), 'utf8');
        const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(certificate)?.[1];
        if (!v3ident) throw new Error(`no fingerprint in ${a.name}'s authority certificate`);
        const { stdout } = await execFileAsync(torBin, [
          '--list-fingerprint', '--orport', '1', '--dirserver', 'xyzzy 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff',
          '--datadirectory', a.dataDir, '--ignore-missing-torrc', '-f', '/dev/null', '--quiet',
        ]);
        const fingerprint = /([0-9A-F]{4}(?: [0-9A-F]{4}){9})\s*$/.exec(stdout.trim())?.[1]?.replace(/ /g, '');
        if (!fingerprint) throw new Error(`unexpected tor --list-fingerprint output: ${stdout}`);
        return `DirAuthority ${a.name} orport=${a.orPort} no-v2 v3ident=${v3ident} 127.0.0.1:${a.dirPort} ${fingerprint}`;
      }),
    );

    for (const p of plans) {
      const lines = commonTorrc(p.dataDir, p.name, p.controlPort, authorityLines);
      if (p.role === 'authority' || p.role === 'relay') {
        lines.push('SocksPort 0', `ORPort 127.0.0.1:${p.orPort}`, 'Address 127.0.0.1', `DirPort 127.0.0.1:${p.dirPort}`, 'ExitRelay 0');
      }
      if (p.role === 'authority') {
        lines.push(
          'AuthoritativeDirectory 1',
          'V3AuthoritativeDirectory 1',
          `ContactInfo ${p.name}@test.test`,
          // Vote + Dist must stay under Interval / 2 (Tor votes at Interval / 2 while it has no consensus).
          'TestingV3AuthInitialVotingInterval 10',
          'TestingV3AuthInitialVoteDelay 2',
          'TestingV3AuthInitialDistDelay 2',
          'V3AuthVotingInterval 10',
          'V3AuthVoteDelay 2',
          'V3AuthDistDelay 2',
        );
      }
      if (p.role === 'onion-service') lines.push('SocksPort 0');
      if (p.role === 'client') lines.push(`SocksPort 127.0.0.1:${p.socksPort} ExtendedErrors`);
      await writeFile(path.join(p.dataDir, 'torrc'), `${lines.join('\n')}\n`);
    }

    for (const p of plans) nodes.push(startNode(torBin, p));
    // Every tor must at least open its control port; the ones peers use must bootstrap fully.
    await Promise.all(nodes.map((n) => n.waitForLog(/Opened Control listener connection \(ready\)/, 30_000)));
    const network: PrivateTorNetwork = {
      root,
      authorities: nodes.filter((n) => n.role === 'authority'),
      relays: nodes.filter((n) => n.role === 'relay'),
      onionService: nodes.find((n) => n.role === 'onion-service')!,
      client: nodes.find((n) => n.role === 'client')!,
      nodes,
      describe: (count = 15) => nodes.map((n) => `--- ${n.name} (pid ${n.pid})\n${n.log().trimEnd().split('\n').slice(-count).join('\n')}`).join('\n'),
      stop,
    };
    try {
      await Promise.all([network.client, network.onionService].map((n) => n.waitForLog(/Bootstrapped 100%/, bootstrapTimeoutMs)));
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${network.describe()}`);
    }
    return network;
  } catch (error) {
    await stop();
    throw error;
  }
}

function startNode(torBin: string, p: NodePlan): TorNode {
  const child: ChildProcess = spawn(torBin, ['-f', path.join(p.dataDir, 'torrc'), '--ignore-missing-torrc'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn tor for ${p.name}`);
  let log = '';
  let alive = true;
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer): void => {
    log += chunk.toString();
    if (log.length > MAX_LOG) log = log.slice(-MAX_LOG / 2);
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      alive = false;
      log += `\n[tor exited: ${signal ?? code}]\n`;
      for (const l of [...listeners]) l();
      resolve();
    }),
  );
  return {
    name: p.name,
    role: p.role,
    dataDir: p.dataDir,
    controlPort: p.controlPort,
    socksPort: p.socksPort,
    orPort: p.orPort,
    pid,
    cookieFile: path.join(p.dataDir, 'control_auth_cookie'),
    log: () => log,
    waitForLog: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(log);
          if (match) return done(() => resolve(match));
          if (!alive) return done(() => reject(new Error(`${p.name}: tor exited before ${pattern}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${p.name}: no ${pattern} in Tor's log within ${timeoutMs} ms`))), timeoutMs);
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      }),
    kill: async () => {
      if (alive) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}
