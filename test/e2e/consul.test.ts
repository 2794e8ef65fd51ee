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
import { connectPeer, type TestPeer } from '../helpers/ln-peer.js';

interface PeerView {
  nodeId: string;
  front: string;
}

/** The agent's view of each registered front's metadata (what the front published). */
async function consulMeta(consul: ConsulDouble): Promise<Record<string, Record<string, string>>> {
  const services = (await (await fetch(`${consul.url}/v1/agent/services`)).json()) as Record<string, { Meta: Record<string, string> }>;
  return Object.fromEntries(Object.entries(services).map(([id, s]) => [id, s.Meta]));
}

/** Peers through the balancer, one after the other (the balancer's choice depends on the previous ones), with the front the back lists each on. */
async function connectThroughBalancer(cluster: TestCluster, count: number): Promise<Array<{ peer: TestPeer; front: string }>> {
  const connected: Array<{ peer: TestPeer; front: string }> = [];
  for (let i = 0; i < count; i++) {
    const peer = await connectPeer(cluster.nodeId, cluster.balancerPort());
    await peer.handshakeInit();
    const listed = await cluster.waitFor('peer listed', async () => ((await cluster.api('peers')) as PeerView[]).find((p) => p.nodeId === peer.nodeId));
    connected.push({ peer, front: listed.front });
  }
  return connected;
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

test.serial('cli drain reaches Consul: the balancer sends the drained front no new peers, its peer keeps working; undrain and a relink keep the state; keyless fronts publish the node id', async (t) => {
  const consul = await ConsulDouble.start();
  t.teardown(() => consul.stop());
  const discovery = ['--discovery', 'consul', '--consul.url', consul.url];
  // Keyless fronts (the harness default) without node-id: they learn the node id from the back's welcome.
  const cluster = await TestCluster.start({ fronts: 2, logLevel: 'info', frontArgs: () => ['--front.proxy-trusted', '127.0.0.1', ...discovery] });
  t.teardown(() => cluster.stop());
  await cluster.startBalancer(discovery);
  await cluster.waitForBalancerFronts('both fronts from Consul', (f) => f.length === 2 && f.every((x) => x.state === 'ready'));
  let meta = await consulMeta(consul);
  t.is(meta['front-1']?.['nodeId'], cluster.nodeId, 'a keyless front publishes the node id it learned from the back');
  t.is(meta['front-2']?.['nodeId'], cluster.nodeId);

  // Least connections: one peer on each front.
  const first = await connectThroughBalancer(cluster, 2);
  const onFront1 = first.find((c) => c.front === 'front-1');
  t.truthy(onFront1, `one of the first two peers on front-1 (${first.map((c) => c.front).join(', ')})`);

  await cluster.cli('drain', 'front-1');
  await cluster.waitFor('front-1 draining in Consul', async () => ((await consulMeta(consul))['front-1']?.['draining'] === 'true' ? true : undefined));
  await cluster.waitForBalancerFronts('front-1 draining in the balancer', (f) => f.some((x) => x.id === 'front-1' && x.state === 'draining'));
  const later = await connectThroughBalancer(cluster, 3);
  t.deepEqual(later.map((c) => c.front), ['front-2', 'front-2', 'front-2'], 'no new peer on the drained front');
  onFront1!.peer.send(new Uint8Array([0, 18, 0, 3, 0, 0]));
  const pong = await onFront1!.peer.next('pong');
  t.is(pong.type === 'pong' ? pong.ignored.length : -1, 3, 'the peer on the drained front still gets its pong');

  await cluster.cli('undrain', 'front-1');
  await cluster.waitForBalancerFronts('front-1 back in service', (f) => f.some((x) => x.id === 'front-1' && x.state === 'ready'));
  t.is((await consulMeta(consul))['front-1']?.['draining'], 'false');
  // front-1 has 1 peer, front-2 has 4: the next peer goes to front-1 again.
  const restored = await connectThroughBalancer(cluster, 1);
  t.is(restored[0]!.front, 'front-1');

  // The back keeps the drain mark across a restart of the front: the new process learns it in the welcome,
  // before it registers, so it is draining from its very first registration (no window in which the
  // balancer could see it ready).
  await cluster.cli('drain', 'front-2');
  await cluster.waitForBalancerFronts('front-2 draining', (f) => f.some((x) => x.id === 'front-2' && x.state === 'draining'));
  cluster.fronts[1]!.child.kill('SIGTERM');
  t.is(await cluster.fronts[1]!.exited, 0);
  t.false('front-2' in (await consulMeta(consul)), 'front-2 deregistered on SIGTERM');
  await cluster.startFront(1);
  const firstSeen = await cluster.waitFor('front-2 registered again', async () => (await consulMeta(consul))['front-2'], 10_000, 20);
  t.is(firstSeen['draining'], 'true', 'registered as draining from the start');
  meta = await consulMeta(consul);
  t.is(meta['front-2']?.['nodeId'], cluster.nodeId);
  await cluster.waitForBalancerFronts('front-2 draining after its restart', (f) => f.some((x) => x.id === 'front-2' && x.state === 'draining'));
  const fronts = (await cluster.api('fronts')) as Array<{ id: string; draining: boolean }>;
  t.true(fronts.find((f) => f.id === 'front-2')?.draining, 'the back still lists front-2 as draining');

  for (const { peer } of [...first, ...later, ...restored]) peer.close();
});
