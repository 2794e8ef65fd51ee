/**
 * Starts a throwaway `tor` for tests: temp DataDirectory, control port on 127.0.0.1, no real network.
 * Ready is read from Tor's own log line ("Opened Control listener connection (ready)"), not a sleep.
 * Every instance is killed by PID (SIGKILL) in stop(); tests register stop() with t.teardown.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestFn } from 'ava';

const execFileAsync = promisify(execFile);

export async function findTor(): Promise<string | undefined> {
  const candidates = [process.env['TOR_BIN'], '/usr/sbin/tor', '/usr/bin/tor', '/usr/local/bin/tor'];
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir) candidates.push(path.join(dir, 'tor'));
  for (const candidate of candidates) {
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

/**
 * Registers the suite only when tor is installed. In CI (CI=true) a missing tor is a failing test, never a
 * skip; elsewhere the suite is skipped with a message saying why.
 */
export async function torOrExplain(test: TestFn, suite: string): Promise<string | undefined> {
  const tor = await findTor();
  if (tor) return tor;
  if (process.env['CI'] === 'true') {
    test(`${suite}: tor must be installed in CI`, (t) => t.fail('tor not found (apt-get install tor); CI must run the Tor tests'));
  } else {
    test.skip(`${suite}: skipped because tor is not installed (apt-get install tor, or set TOR_BIN)`, () => undefined);
  }
  return undefined;
}

export async function hashPassword(tor: string, password: string): Promise<string> {
  const { stdout } = await execFileAsync(tor, ['--quiet', '--hash-password', password]);
  const hashed = stdout.trim().split('\n').pop() ?? '';
  if (!hashed.startsWith('16:')) throw new Error(`unexpected tor --hash-password output: ${stdout}`);
  return hashed;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TorStartOptions {
  /** Reuse a DataDirectory (restart tests); a fresh temp one otherwise. */
  dataDir?: string;
  /** Fixed control port (restart tests); 'auto' otherwise. */
  controlPort?: number;
  cookie?: boolean;
  hashedPassword?: string;
  /**
   * 'disabled': DisableNetwork 1 (no SOCKS listener either). 'unreachable': network on, but the only
   * directory authority is a closed local port, so Tor opens its SocksPort and never reaches anything.
   */
  network?: 'disabled' | 'unreachable';
  /** Also listen on a unix control socket (DataDirectory/control.sock). */
  controlSocket?: boolean;
}

export interface TorInstance {
  readonly pid: number;
  readonly controlPort: number;
  readonly socksPort: number | undefined;
  readonly dataDir: string;
  readonly cookieFile: string;
  readonly controlSocketPath: string | undefined;
  /** Kills tor (SIGKILL, by PID) and waits for its exit. Idempotent. */
  kill(): Promise<void>;
  /** kill() and remove the temp folder (when this instance created it). */
  stop(): Promise<void>;
}

export async function startTor(tor: string, options: TorStartOptions = {}): Promise<TorInstance> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'lncluster-tor-')));
  await chmod(dataDir, 0o700);
  const network = options.network ?? 'disabled';
  const lines = [
    `DataDirectory ${dataDir}`,
    `ControlPort 127.0.0.1:${options.controlPort ?? 'auto'}`,
    `CookieAuthentication ${options.cookie === false ? 0 : 1}`,
    'Log notice stdout',
    'AvoidDiskWrites 1',
    // Tor exits by itself if the test process dies without its teardown (ava timeout, crash).
    `__OwningControllerProcess ${process.pid}`,
  ];
  const controlSocketPath = options.controlSocket ? path.join(dataDir, 'control.sock') : undefined;
  if (controlSocketPath) lines.push(`ControlSocket ${controlSocketPath}`);
  if (options.hashedPassword) lines.push(`HashedControlPassword ${options.hashedPassword}`);
  if (network === 'disabled') {
    lines.push('DisableNetwork 1', 'SocksPort 0');
  } else {
    lines.push(
      'SocksPort 127.0.0.1:auto ExtendedErrors',
      'DirAuthority unreachable orport=1 no-v2 v3ident=0000000000000000000000000000000000000000 127.0.0.1:1 0000000000000000000000000000000000000000',
    );
  }
  const torrc = path.join(dataDir, 'torrc');
  await writeFile(torrc, `${lines.join('\n')}\n`);

  const child: ChildProcess = spawn(tor, ['-f', torrc, '--ignore-missing-torrc'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn tor');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const kill = async (): Promise<void> => {
    if (alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
  };

  let log = '';
  try {
    const ports = await new Promise<{ control: number; socks: number | undefined }>((resolve, reject) => {
      let control: number | undefined;
      let socks: number | undefined;
      const timer = setTimeout(() => reject(new Error(`tor not ready after 30 s:\n${log}`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const c = /Opened Control listener connection \(ready\) on [\d.]+:(\d+)/.exec(log);
        const s = /Opened Socks listener connection \(ready\) on [\d.]+:(\d+)/.exec(log);
        if (c) control = Number(c[1]);
        if (s) socks = Number(s[1]);
        if (control !== undefined && (network === 'disabled' || socks !== undefined)) {
          clearTimeout(timer);
          resolve({ control, socks });
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`tor exited before ready:\n${log}`));
      });
    });
    const cookieFile = path.join(dataDir, 'control_auth_cookie');
    if (options.cookie !== false) await waitForFile(cookieFile);
    if (controlSocketPath) await waitForFile(controlSocketPath);
    return {
      pid,
      controlPort: ports.control,
      socksPort: ports.socks,
      dataDir,
      cookieFile,
      controlSocketPath,
      kill,
      stop: async () => {
        await kill();
        if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await kill();
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function waitForFile(file: string): Promise<void> {
  // Tor writes the cookie before it opens its listeners; this only covers a slow filesystem.
  for (let i = 0; i < 100; i++) {
    try {
      await access(file);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`${file} never appeared`);
}
