// CPU cost of one short connection through the built-in balancer (one process; native and
// net.Socket data paths) and through HAProxy (one thread), from the processes' own CPU time (/proc, Linux only). Unlike conn/s, this
// barely moves when other work shares the machine, so it compares two builds of the balancer.
//   node dist/bench/balancer-cpu.js [rounds=3] [seconds=3]
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { HaproxyDataPlane, findHaproxyBinary } from '../src/balancer/haproxy.js';
import { child, oneConnection } from './child.js';

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 3);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User and system CPU of a process (all its threads), in ms. */
function cpuMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / TICKS_PER_SECOND, system: (Number(fields[12]) * 1000) / TICKS_PER_SECOND };
}

async function load(port: number, pid: number): Promise<{ perSecond: number; cpuUsPerConnection: number; systemShare: number }> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const cpuBefore = cpuMs(pid);
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (Date.now() < deadline) {
        await oneConnection(port).catch(() => undefined);
        done++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuAfter = cpuMs(pid);
  const user = cpuAfter.user - cpuBefore.user;
  const system = cpuAfter.system - cpuBefore.system;
  return { perSecond: Math.round(done / elapsed), cpuUsPerConnection: Math.round(((user + system) * 1000) / done), systemShare: Number((system / Math.max(1, user + system)).toFixed(2)) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const backends = await child('./balancer-backend.js', ['2']);
const specs = (backends.message.ports as number[]).map((port, i) => ({ id: `b${i + 1}`, host: '127.0.0.1', port }));
const proxy = await child('./balancer-proxy.js', ['1', JSON.stringify(specs), 'native']);
const nodeProxy = await child('./balancer-proxy.js', ['1', JSON.stringify(specs), 'node']);
const targets: { name: string; port: number; pid: number }[] = [
  { name: 'builtin-1w', port: proxy.message.port as number, pid: proxy.proc.pid! },
  { name: 'builtin-node-1w', port: nodeProxy.message.port as number, pid: nodeProxy.proc.pid! },
];
let haproxy: HaproxyDataPlane | null = null;
if (await findHaproxyBinary()) {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  haproxy = new HaproxyDataPlane({ listen: [{ host: '127.0.0.1', port }], slots: 4, threads: 1, healthCheck: null });
  await haproxy.start();
  await haproxy.sync(specs);
  targets.push({ name: 'haproxy', port, pid: haproxy.pid! });
}
const samples = new Map(targets.map((t) => [t.name, { perSecond: [] as number[], cpu: [] as number[], systemShare: [] as number[] }]));
try {
  // One unmeasured round each first: a fresh Node process is still compiling its hot paths (its first
  // round costs about 1.4x the CPU per connection of the next ones).
  for (const t of targets) await load(t.port, t.pid);
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      const m = await load(t.port, t.pid);
      samples.get(t.name)!.perSecond.push(m.perSecond);
      samples.get(t.name)!.cpu.push(m.cpuUsPerConnection);
      samples.get(t.name)!.systemShare.push(m.systemShare);
    }
  }
} finally {
  await haproxy?.stop();
  for (const p of [proxy.proc, nodeProxy.proc, backends.proc]) {
    const exited = once(p, 'exit');
    p.disconnect();
    await exited;
  }
}
for (const [name, s] of samples) {
  console.log(JSON.stringify({ target: name, connPerSecond: median(s.perSecond), cpuUsPerConnection: median(s.cpu), systemShare: median(s.systemShare), samples: s }));
}
