// The built-in balancer in its own process for bench/balancer.ts (argv: workers, backends JSON,
// data path: native or node).
import { BuiltinBalancer } from '../src/balancer/builtin.js';
import type { BackendSpec } from '../src/balancer/backend-set.js';

const workers = Number(process.argv[2] ?? 1);
const backends = JSON.parse(process.argv[3] ?? '[]') as BackendSpec[];
const dataPath = process.argv[4] === 'node' ? 'node' : 'native';
const balancer = new BuiltinBalancer(
  {
    listen: [{ host: '127.0.0.1', port: 0 }],
    workers,
    dataPath,
    // Every bench client comes from 127.0.0.1: per-source limits would measure themselves.
    limits: { maxConnections: 100_000, maxConnectionsPerSource: 100_000, newConnectionsPerSecondPerSource: 1e9, newConnectionsBurstPerSource: 1e9 },
  },
  backends,
);
const [bound] = await balancer.start();
process.send?.({ port: bound!.port });
process.on('disconnect', () => {
  void balancer.close().finally(() => process.exit(0));
});
