// Profiles the built-in balancer's new-connection path: starts the bench backends and one balancer
// process under `node --cpu-prof`, drives short connections (the conn/s workload of balancer.ts)
// for a few seconds, then stops the balancer so it writes its profile.
//   node dist/bench/balancer-profile.js [seconds=4] [workers=1] [profileDir=./cpu-profiles]
// Then summarise the .cpuprofile (self time per function) with your tool of choice.
import { once } from 'node:events';
import path from 'node:path';
import { child, oneConnection } from './child.js';

const seconds = Number(process.argv[2] ?? 4);
const workers = Number(process.argv[3] ?? 1);
const profileDir = path.resolve(process.argv[4] ?? 'cpu-profiles');

const backends = await child('./balancer-backend.js', ['2']);
const specs = (backends.message.ports as number[]).map((port, i) => ({ id: `b${i + 1}`, host: '127.0.0.1', port }));
const proxy = await child('./balancer-proxy.js', [String(workers), JSON.stringify(specs)], ['--cpu-prof', '--cpu-prof-dir', profileDir]);
const port = proxy.message.port as number;
const deadline = Date.now() + seconds * 1000;
let done = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (Date.now() < deadline) {
      try {
        await oneConnection(port);
        done++;
      } catch {
        failed++;
      }
    }
  }),
);
console.log(JSON.stringify({ connections: done, failed, perSecond: Math.round(done / seconds), profileDir }));
for (const p of [proxy.proc, backends.proc]) {
  const exited = once(p, 'exit');
  p.disconnect();
  await exited;
}
