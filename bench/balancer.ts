// Balancer benchmark: the same backends reached directly, through the built-in balancer (its native
// data path with 1 and 2 worker processes, and its net.Socket data path with 1) and through HAProxy
// (one thread, and two), side by side in one run.
//   bulk      MB/s of 4 parallel uploads of 32 MiB each
//   conn/s    connect, 1-byte request, 1-byte answer, close; 16 in parallel for 1 s
//   conn-lean the same with a client and backends in C (bench/native/loadgen.c), which spend a
//             fraction of the CPU the Node ones do, so the proxies' own cost decides the rate
//   latency   64-byte ping-pong on one connection, p50/p99; "added" = minus the direct figure
// Clients, balancer and backends share the machine (2 cores here), so absolute numbers are low and
// the ratios are what to read.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { HaproxyDataPlane, findHaproxyBinary } from '../src/balancer/haproxy.js';
import type { BenchResult } from './result.js';
import { child } from './child.js';
export type { BenchResult } from './result.js';


const BULK_STREAMS = 4;
const BULK_BYTES_PER_STREAM = 32 * 1024 * 1024;
const CONN_CONCURRENCY = 16;
const CONN_DURATION_MS = 1_000;
const PINGS = 1_000;

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.disconnect();
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

async function bulkOne(port: number, chunk: Buffer): Promise<void> {
  const socket = await connect(port);
  const answered = new Promise<void>((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => (got === 'OK' ? resolve() : reject(new Error(`bulk answer ${JSON.stringify(got)}`))));
    socket.on('close', () => (got === 'OK' ? resolve() : reject(new Error('bulk connection closed early'))));
  });
  chunk[0] = 0x42; // 'B'
  let sent = 0;
  while (sent < BULK_BYTES_PER_STREAM) {
    sent += chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.end();
  await answered;
  socket.destroy();
}

async function bulk(port: number): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: BULK_STREAMS }, () => bulkOne(port, Buffer.alloc(64 * 1024, 0x61))));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (BULK_STREAMS * BULK_BYTES_PER_STREAM) / (1024 * 1024) / seconds;
}

async function connectionsPerSecond(port: number): Promise<number> {
  const deadline = Date.now() + CONN_DURATION_MS;
  let done = 0;
  let failed = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONN_CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        try {
          const socket = await connect(port);
          socket.write('C');
          await new Promise<void>((resolve, reject) => {
            socket.once('data', () => resolve());
            socket.once('close', () => reject(new Error('closed without answer')));
          });
          socket.destroy();
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (failed > done / 100) throw new Error(`connection bench: ${failed} failures for ${done} successes`);
  return done / seconds;
}

async function latency(port: number): Promise<{ p50: number; p99: number }> {
  const socket = await connect(port);
  const message = Buffer.alloc(64, 0x45); // 'E'
  const samples: number[] = [];
  let pending: (() => void) | null = null;
  let received = 0;
  socket.on('data', (d: Buffer) => {
    received += d.length;
    if (received >= message.length && pending) {
      received -= message.length;
      const p = pending;
      pending = null;
      p();
    }
  });
  for (let i = 0; i < PINGS + 100; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      socket.write(message);
    });
    if (i >= 100) samples.push(Number(process.hrtime.bigint() - start) / 1e6); // first 100 warm up
  }
  socket.destroy();
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length * 0.5)]!, p99: samples[Math.floor(samples.length * 0.99)]! };
}

interface Measured {
  bulk: number;
  conns: number;
  /** conn/s with the lean C client and backends (null without a C compiler). */
  leanConns: number | null;
  p50: number;
  p99: number;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Every target is started first and measured in turn, metric by metric, ROUNDS times; the median
 * is reported. Interleaving keeps a burst of load from other processes from favouring one target.
 * WARMUP_ROUNDS of bulk and conn/s go first, unmeasured, for every target: a fresh Node process
 * needs about half a gigabyte of forwarding before its allocator and JIT reach the steady state a
 * running balancer is in (measured: 3.6 CPU-ms per MB in its first bulk round, 127 page faults per
 * MB; 1.25 ms and 10 faults by the sixth, where HAProxy is at 1.1 ms from the start).
 */
const ROUNDS = 5;
const WARMUP_ROUNDS = 4;
/**
 * Each target reaches its own pair of backend ports. A conn/s round leaves thousands of sockets in
 * TIME_WAIT; on shared ports the next target's connects would search for free ephemeral ports among
 * them, and whichever target came later would pay for the others' rounds.
 */
const BACKEND_PORTS_PER_TARGET = 2;
/** HAProxy targets: threads. */
const HAPROXY = [
  { name: 'haproxy', threads: 1 },
  { name: 'haproxy-2t', threads: 2 },
] as const;
/** Built-in targets: workers and data path. */
const BUILTIN = [
  { name: 'builtin-1w', workers: 1, dataPath: 'native' },
  { name: 'builtin-2w', workers: 2, dataPath: 'native' },
  { name: 'builtin-node-1w', workers: 1, dataPath: 'node' },
] as const;
const TARGETS = ['direct', ...BUILTIN.map((b) => b.name), ...HAPROXY.map((h) => h.name)] as const;
type Target = (typeof TARGETS)[number];

type BackendSpecs = Array<{ id: string; host: string; port: number }>;

interface TargetSet {
  ports: Map<string, number>;
  stop(): Promise<void>;
}

/** Starts every proxy target (and 'direct'), each reaching the backends `specsFor` gives it. */
async function startTargets(specsFor: (target: Target) => BackendSpecs): Promise<TargetSet> {
  const ports = new Map<string, number>([['direct', specsFor('direct')[0]!.port]]);
  const proxies: ChildProcess[] = [];
  const haproxyPlanes: HaproxyDataPlane[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(haproxyPlanes.map((p) => p.stop()));
    await Promise.all(proxies.map((p) => stopChild(p)));
  };
  try {
    for (const b of BUILTIN) {
      const proxy = await child('./balancer-proxy.js', [String(b.workers), JSON.stringify(specsFor(b.name)), b.dataPath]);
      proxies.push(proxy.proc);
      ports.set(b.name, proxy.message.port as number);
    }
    if (await findHaproxyBinary()) {
      for (const h of HAPROXY) {
        const port = await freePort();
        const plane = new HaproxyDataPlane({ listen: [{ host: '127.0.0.1', port }], slots: 4, threads: h.threads, healthCheck: null });
        haproxyPlanes.push(plane);
        await plane.start();
        const report = await plane.sync(specsFor(h.name));
        if (report.errors.length) throw new Error(`haproxy sync: ${JSON.stringify(report.errors)}`);
        ports.set(h.name, port);
      }
    } else {
      console.warn('bench/balancer: haproxy not installed, HAProxy figures skipped');
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, stop };
}

/** Splits backend ports into BACKEND_PORTS_PER_TARGET per target, in TARGETS order. */
function specsFrom(ports: readonly number[]): (target: Target) => BackendSpecs {
  return (target) => {
    const first = TARGETS.indexOf(target) * BACKEND_PORTS_PER_TARGET;
    return ports.slice(first, first + BACKEND_PORTS_PER_TARGET).map((port, i) => ({ id: `b${i + 1}`, host: '127.0.0.1', port }));
  };
}

export async function benchBalancer(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const backends = await child('./balancer-backend.js', [String(BACKEND_PORTS_PER_TARGET * TARGETS.length)]);
  const measured = new Map<string, Measured>();
  const lean = await leanLoad();
  let nodeSet: TargetSet | null = null;
  let leanSet: TargetSet | null = null;
  try {
    nodeSet = await startTargets(specsFrom(backends.message.ports as number[]));
    const targets = nodeSet.ports;
    if (lean) leanSet = await startTargets(specsFrom(await lean.serve(BACKEND_PORTS_PER_TARGET * TARGETS.length)));
    const samples = new Map<string, { bulk: number[]; conns: number[]; leanConns: number[]; p50: number[]; p99: number[] }>();
    for (const name of targets.keys()) samples.set(name, { bulk: [], conns: [], leanConns: [], p50: [], p99: [] });
    for (let r = 0; r < WARMUP_ROUNDS; r++) {
      for (const port of targets.values()) {
        await bulk(port);
        await connectionsPerSecond(port);
      }
      if (leanSet && lean) for (const port of leanSet.ports.values()) await lean.connectionsPerSecond(port);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, port] of targets) {
        const l = await latency(port);
        samples.get(name)!.p50.push(l.p50);
        samples.get(name)!.p99.push(l.p99);
      }
      for (const [name, port] of targets) samples.get(name)!.bulk.push(await bulk(port));
      for (const [name, port] of targets) samples.get(name)!.conns.push(await connectionsPerSecond(port));
      if (leanSet && lean) for (const [name, port] of leanSet.ports) samples.get(name)!.leanConns.push(await lean.connectionsPerSecond(port));
    }
    for (const [name, s] of samples) {
      measured.set(name, { bulk: median(s.bulk), conns: median(s.conns), leanConns: s.leanConns.length ? median(s.leanConns) : null, p50: median(s.p50), p99: median(s.p99) });
    }
  } finally {
    await leanSet?.stop();
    await nodeSet?.stop();
    lean?.close();
    await stopChild(backends.proc);
  }

  const direct = measured.get('direct')!;
  const haproxy = measured.get('haproxy');
  const haproxy2t = measured.get('haproxy-2t');
  for (const [name, m] of measured) {
    results.push({ bench: `balancer.bulk.${name}`, value: round(m.bulk, 1), unit: 'MB/s', baseline: null });
    results.push({ bench: `balancer.conn.${name}`, value: round(m.conns, 0), unit: 'conn/s', baseline: null });
    if (m.leanConns !== null) results.push({ bench: `balancer.conn-lean.${name}`, value: round(m.leanConns, 0), unit: 'conn/s', baseline: null });
    results.push({ bench: `balancer.latency-p50.${name}`, value: round(m.p50), unit: 'ms', baseline: null });
    results.push({ bench: `balancer.latency-p99.${name}`, value: round(m.p99), unit: 'ms', baseline: null });
    if (name === 'direct') continue;
    results.push({ bench: `balancer.added-latency-p50.${name}`, value: round(m.p50 - direct.p50), unit: 'ms', baseline: null });
    results.push({ bench: `balancer.added-latency-p99.${name}`, value: round(m.p99 - direct.p99), unit: 'ms', baseline: null });
    results.push({ bench: `balancer.bulk-vs-direct.${name}`, value: round(m.bulk / direct.bulk), unit: 'x', baseline: null });
    results.push({ bench: `balancer.conn-vs-direct.${name}`, value: round(m.conns / direct.conns), unit: 'x', baseline: null });
    if (haproxy && name.startsWith('builtin')) {
      // Baselines are the targets: >= 0.9x HAProxy's bulk and >= 0.75x its connections/s on one
      // core; with both cores, ahead of it (> 1x).
      const twoCores = name === 'builtin-2w';
      const ratio = (suffix: string, ours: number, theirs: number, baseline: number): void => {
        results.push({ bench: `balancer.${suffix}.${name}`, value: round(ours / theirs), unit: 'x', baseline });
      };
      ratio('bulk-vs-haproxy', m.bulk, haproxy.bulk, twoCores ? 1 : 0.9);
      ratio('conn-vs-haproxy', m.conns, haproxy.conns, twoCores ? 1 : 0.75);
      if (m.leanConns !== null && haproxy.leanConns !== null) ratio('conn-lean-vs-haproxy', m.leanConns, haproxy.leanConns, twoCores ? 1 : 0.75);
      if (twoCores && haproxy2t) {
        ratio('bulk-vs-haproxy-2t', m.bulk, haproxy2t.bulk, 1);
        ratio('conn-vs-haproxy-2t', m.conns, haproxy2t.conns, 1);
        if (m.leanConns !== null && haproxy2t.leanConns !== null) ratio('conn-lean-vs-haproxy-2t', m.leanConns, haproxy2t.leanConns, 1);
      }
    }
  }
  return results;
}

/**
 * The lean client and backend (bench/native/loadgen.c), compiled with the machine's C compiler; null
 * (and a warning) without one. The Node client and backend spend about as much CPU per connection
 * as the proxy under test; with these the proxies' own cost decides the connection rate.
 */
async function leanLoad(): Promise<{
  serve(count: number): Promise<number[]>;
  connectionsPerSecond(port: number): Promise<number>;
  close(): void;
} | null> {
  const source = fileURLToPath(new URL('../../bench/native/loadgen.c', import.meta.url));
  const binary = join(tmpdir(), `lncluster-loadgen-${process.pid}`);
  const built = spawnSync('cc', ['-O2', '-o', binary, source], { encoding: 'utf8' });
  if (built.status !== 0) {
    console.warn(`bench/balancer: cannot build ${source} (${built.error?.message ?? built.stderr.trim()}): lean conn/s skipped`);
    return null;
  }
  let server: ChildProcess | null = null;
  return {
    async serve(count) {
      server = spawn(binary, ['serve', String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
      if (!line.startsWith('PORTS ')) throw new Error(`loadgen serve: ${line}`);
      return line.slice(6).split(' ').map(Number);
    },
    async connectionsPerSecond(port) {
      const run = spawnSync(binary, ['connect', String(port), String(CONN_CONCURRENCY), String(CONN_DURATION_MS)], { encoding: 'utf8' });
      const result = JSON.parse(run.stdout) as { done: number; failed: number; seconds: number };
      if (result.failed > result.done / 100) throw new Error(`lean connection bench: ${result.failed} failures for ${result.done} successes`);
      return result.done / result.seconds;
    },
    close() {
      server?.stdin?.end();
      rmSync(binary, { force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// `node dist/bench/balancer.js` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchBalancer()) console.log(JSON.stringify(r));
}
