// Starts real lncluster processes (back, fronts) on 127.0.0.1 for end-to-end tests, the way an
// operator would: `node dist/src/cli/main.js <role> ...`, each role its own OS process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { prepareDataDir } from '../../src/cli/demo.js';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface ReadyLine {
  event: 'ready';
  role: string;
  id: string;
  pid: number;
  [key: string]: unknown;
}

export interface RoleProcess {
  child: ChildProcess;
  ready: ReadyLine;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawns one role and resolves with its readiness line (rejects if it exits first). */
export function startRole(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<RoleProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]} not ready within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as ReadyLine;
        if (parsed.event === 'ready') {
          clearTimeout(timer);
          resolve({ child, ready: parsed, stderr: () => stderr, exited });
        }
      } catch {
        // other output
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

/** Runs a command to completion (cli, keygen): exit code, stdout, stderr. */
export function runCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ClusterOptions {
  fronts?: number;
  nodeKeyMode?: 'local' | 'delegated';
  backArgs?: string[];
  frontArgs?: (index: number) => string[];
  logLevel?: string;
}

export class TestCluster {
  readonly processes: RoleProcess[] = [];
  back!: RoleProcess;
  readonly fronts: RoleProcess[] = [];
  constructor(readonly dataDir: string, private readonly options: ClusterOptions) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const dataDir = mkdtempSync(join(tmpdir(), 'lncluster-e2e-'));
    await prepareDataDir(dataDir);
    const cluster = new TestCluster(dataDir, options);
    try {
      cluster.back = await cluster.spawn([
        'back', ...cluster.common(),
        '--back.cluster-listen', '127.0.0.1:0',
        '--ops.listen', '127.0.0.1:0',
        ...(options.backArgs ?? []),
      ]);
      for (let i = 0; i < (options.fronts ?? 2); i++) await cluster.startFront(i);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  common(): string[] {
    return ['--data-dir', this.dataDir, '--network', 'regtest', '--log.level', this.options.logLevel ?? 'debug'];
  }

  get nodeId(): string {
    return String(this.back.ready['nodeId']);
  }

  get clusterAddress(): string {
    return String(this.back.ready['cluster']);
  }

  async spawn(args: string[], env?: NodeJS.ProcessEnv): Promise<RoleProcess> {
    const role = await startRole(args, env);
    this.processes.push(role);
    return role;
  }

  async startFront(index: number, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<RoleProcess> {
    const front = await this.spawn(
      [
        'front', ...this.common(),
        '--front.id', `front-${index + 1}`,
        '--front.back', this.clusterAddress,
        '--front.listen', '127.0.0.1:0',
        '--front.node-key', this.options.nodeKeyMode ?? 'delegated',
        '--ops.listen', '127.0.0.1:0',
        ...(this.options.frontArgs?.(index) ?? []),
        ...extra,
      ],
      env,
    );
    this.fronts[index] = front;
    return front;
  }

  frontPort(index: number): number {
    const listen = String(this.fronts[index]!.ready['listen']);
    return Number(listen.slice(listen.lastIndexOf(':') + 1));
  }

  async cli(...args: string[]): Promise<unknown> {
    const result = await runCommand(['cli', '--data-dir', this.dataDir, ...args]);
    if (result.code !== 0) throw new Error(`cli ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as unknown;
  }

  /** The admin API directly (no process spawn): for timing-sensitive checks. */
  async api(command: string): Promise<unknown> {
    const { readFileSync } = await import('node:fs');
    const info = JSON.parse(readFileSync(join(this.dataDir, 'admin.json'), 'utf8')) as { adminUrl: string };
    const password = readFileSync(join(this.dataDir, 'admin.password'), 'utf8').trim();
    const response = await fetch(`${info.adminUrl}/api/${command}`, { headers: { authorization: `Bearer ${password}` } });
    if (!response.ok) throw new Error(`admin ${command}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<unknown>;
  }

  async cliRaw(...args: string[]) {
    return runCommand(['cli', '--data-dir', this.dataDir, ...args]);
  }

  /** Polls until `check` returns a value (not undefined) or the deadline passes. */
  async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** The balancer of this cluster (startBalancer). */
  balancer: RoleProcess | undefined;

  /** Starts `lncluster balancer` on 127.0.0.1:0 (embedded discovery unless `extra` says otherwise). */
  async startBalancer(extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<RoleProcess> {
    this.balancer = await this.spawn(['balancer', ...this.common(), '--balancer.listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0', ...extra], env);
    return this.balancer;
  }

  balancerPort(): number {
    const listen = String((this.balancer!.ready['listen'] as string[])[0]);
    return Number(listen.slice(listen.lastIndexOf(':') + 1));
  }

  /** The balancer's /health: its discovery view (`discovery.fronts`) and data-plane counters. */
  async balancerHealth(): Promise<BalancerHealth> {
    const response = await fetch(String(this.balancer!.ready['health']));
    return (await response.json()) as BalancerHealth;
  }

  /** Waits until the balancer's discovery view satisfies `check` (e.g. a front listed as draining). */
  async waitForBalancerFronts(what: string, check: (fronts: BalancerHealth['discovery']['fronts']) => boolean, timeoutMs = 20_000): Promise<void> {
    await this.waitFor(what, async () => (check((await this.balancerHealth()).discovery.fronts) ? true : undefined), timeoutMs, 100);
  }

  async stop(): Promise<void> {
    const alive = this.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of alive) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(alive.map((p) => p.exited)), new Promise((r) => setTimeout(r, 5_000))]);
    for (const p of alive) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export interface BalancerHealth {
  status: string;
  engine: string;
  listen: string[];
  discovery: { kind: string; snapshots: number; fronts: Array<{ id: string; host: string; port: number; state?: string }> };
  connections: number;
  backends: Array<{ id: string; state: string; activeConnections: number; totalConnections: number; failures: number }>;
}
