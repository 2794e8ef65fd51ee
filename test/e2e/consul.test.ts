// Consul as discovery, end to end against the Consul HTTP API double: fronts register themselves
// (TTL checks they renew), the balancer watches the health endpoint, and the demo runs on it too.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConsulDouble } from '../helpers/consul-double.js';
import { MAIN, TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer } from '../helpers/ln-peer.js';

interface PeerView {
  nodeId: string;
  front: string;
}

test.serial('a front that stops renewing its TTL leaves the balancer, comes back when it renews, deregisters on SIGTERM', async (t) => {
  const consul = await ConsulDouble.start();
  t.teardown(() => consul.stop());
  const discovery = ['--discovery', 'consul', '--consul.url', consul.url];
  const cluster = await TestCluster.start({
    fronts: 2,
    logLevel: 'info',
    frontArgs: () => ['--front.proxy-trusted', '127.0.0.1', '--consul.ttl-ms', '1500', ...discovery],
  });
  t.teardown(() => cluster.stop());
  await cluster.startBalancer(discovery);
  await cluster.waitForBalancerFronts('both fronts from Consul', (f) => f.length === 2);

  const services = (await (await fetch(`${consul.url}/v1/agent/services`)).json()) as Record<string, { Service: string; Port: number; Meta: Record<string, string> }>;
  t.deepEqual(Object.keys(services).sort(), ['front-1', 'front-2']);
  t.is(services['front-1']!.Service, 'lncluster-front');
  t.is(services['front-1']!.Port, cluster.frontPort(0));
  t.like(services['front-1']!.Meta, { role: 'front' });
  t.regex(services['front-1']!.Meta['healthUrl'] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/ready$/);
  t.regex(services['front-1']!.Meta['clusterAddress'] ?? '', /^127\.0\.0\.1:\d+$/);

  // SIGSTOP: front-1 stops renewing; Consul turns its check critical after the TTL.
  const frontPid = cluster.fronts[0]!.child.pid!;
  process.kill(frontPid, 'SIGSTOP');
  let stopped = true;
  t.teardown(() => {
    if (stopped) process.kill(frontPid, 'SIGCONT');
  });
  await cluster.waitForBalancerFronts('front-1 gone from the balancer', (f) => f.length === 1 && f[0]!.id === 'front-2');
  t.is(consul.checkStatus('service:front-1'), 'critical');
  const peer = await connectPeer(cluster.nodeId, cluster.balancerPort());
  await peer.handshakeInit();
  const listed = await cluster.waitFor('peer listed', async () => ((await cluster.api('peers')) as PeerView[]).find((p) => p.nodeId === peer.nodeId));
  t.is(listed.front, 'front-2');
  peer.close();

  process.kill(frontPid, 'SIGCONT');
  stopped = false;
  await cluster.waitForBalancerFronts('front-1 back in the balancer', (f) => f.some((x) => x.id === 'front-1'), 30_000);
  t.is(consul.checkStatus('service:front-1'), 'passing');

  // A clean exit deregisters at once (no waiting for the TTL).
  cluster.fronts[1]!.child.kill('SIGTERM');
  t.is(await cluster.fronts[1]!.exited, 0);
  t.deepEqual(consul.serviceIds(), ['front-1']);
  await cluster.waitForBalancerFronts('front-2 gone after SIGTERM', (f) => f.length === 1 && f[0]!.id === 'front-1');
});

test.serial('lncluster demo --discovery consul: fronts registered in Consul, peers connect through the balancer', async (t) => {
  const consul = await ConsulDouble.start();
  t.teardown(() => consul.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'lncluster-e2e-demo-consul-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const demo = spawn(process.execPath, [MAIN, 'demo', '--port', '0', '--fronts', '2', '--json', '--data-dir', dataDir, '--discovery', 'consul', '--consul-url', consul.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
  t.teardown(async () => {
    if (demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL');
      await exited;
    }
  });
  let stderr = '';
  demo.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const summary = await new Promise<{ nodeId: string; listen: string; processes: Array<{ role: string; listen: unknown }> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready in 90 s:\n${stderr}`)), 90_000);
    createInterface({ input: demo.stdout! }).on('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { nodeId: string; listen: string; processes: Array<{ role: string; listen: unknown }> });
    });
    void exited.then(() => reject(new Error(`demo exited:\n${stderr}`)));
  });
  const balancer = summary.processes.find((p) => p.role === 'balancer');
  t.truthy(balancer, 'the balancer is one of the demo processes');
  t.deepEqual(balancer!.listen, [summary.listen], "the demo's listen is the balancer's address");
  t.deepEqual(consul.serviceIds(), ['front-1', 'front-2']);

  const port = Number(summary.listen.slice(summary.listen.lastIndexOf(':') + 1));
  const peer = await connectPeer(summary.nodeId, port);
  const init = await peer.handshakeInit();
  t.is(init.type, 'init');
  peer.close();

  demo.kill('SIGTERM');
  await exited;
  t.deepEqual(consul.serviceIds(), [], 'fronts deregistered on the clean exit');
});
