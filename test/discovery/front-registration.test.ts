// The front's own Consul registration (src/front/registration.ts) against the Consul HTTP API double:
// what the back tells a front (drain, node id) reaches the health endpoint the balancer watches.
import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { ConsulDiscovery } from '../../src/discovery/consul.js';
import { registerFront, type FrontRegistration } from '../../src/front/registration.js';
import { ConsulDouble } from '../helpers/consul-double.js';
import { readWatch } from './watch-helpers.js';

const SERVICE = 'lncluster-front';
const NODE_ID = '03'.padEnd(66, 'cd');

interface HealthEntry {
  Service: { ID: string; Meta: Record<string, string> };
}

/** The passing instances' metadata, as the balancer's Consul watch reads it. */
async function passingMeta(double: ConsulDouble): Promise<Record<string, Record<string, string>>> {
  const entries = (await (await fetch(`${double.url}/v1/health/service/${SERVICE}?passing`)).json()) as HealthEntry[];
  return Object.fromEntries(entries.map((e) => [e.Service.ID, e.Service.Meta]));
}

async function setup(t: { teardown(fn: () => Promise<void> | void): void }) {
  const double = await ConsulDouble.start();
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const { config } = loadConfig({
    argv: ['--discovery', 'consul', '--consul.url', double.url, '--consul.ttl-ms', '1500', '--front.back', '127.0.0.1:9736'],
    env: {},
  });
  // The balancer's side: a watch of the healthy fronts, with a short backoff so a restarted agent is seen quickly.
  const watcher = new ConsulDiscovery({ url: double.url, watchWaitMs: 30_000, watchMinIntervalMs: 0, backoffInitialMs: 20, backoffMaxMs: 200 });
  const abort = new AbortController();
  let registration: FrontRegistration | null = null;
  t.teardown(async () => {
    abort.abort();
    await registration?.deregister();
    await watcher.close();
    await double.stop();
  });
  const register = (nodeId?: string) => {
    registration = registerFront({ config, log, frontId: 'front-1', listen: '127.0.0.1:9735', opsUrl: 'http://127.0.0.1:9100', ...(nodeId ? { nodeId } : {}) });
    if (!registration) throw new Error('discovery = consul must register');
    return registration;
  };
  return { double, lines, register, watch: readWatch(watcher.watch(SERVICE, abort.signal)) };
}

test('updateMeta publishes draining and a learned node id to the passing instances, and a watch sees each change', async (t) => {
  const { double, register, watch } = await setup(t);
  // Registered without a node id (a keyless front that has not learned it), called before the registration completed.
  const registration = register();
  await registration.updateMeta({ draining: true });
  let meta = (await passingMeta(double))['front-1'];
  t.is(meta?.['draining'], 'true');
  t.false(meta !== undefined && 'nodeId' in meta, 'registered without a node id');
  const seenDraining = await watch.until((s) => s.instances.some((i) => i.id === 'front-1' && i.meta.draining === true));
  t.is(seenDraining.instances[0]!.meta.nodeId, undefined);

  await registration.updateMeta({ nodeId: NODE_ID });
  meta = (await passingMeta(double))['front-1'];
  t.like(meta, { role: 'front', nodeId: NODE_ID, draining: 'true', healthUrl: 'http://127.0.0.1:9100/ready' }, 'merged, not replaced');
  await watch.until((s) => s.instances.some((i) => i.meta.nodeId === NODE_ID));

  await registration.updateMeta({ draining: false });
  t.is((await passingMeta(double))['front-1']?.['draining'], 'false');
  const undrained = await watch.until((s) => s.instances.some((i) => i.id === 'front-1' && i.meta.draining === false));
  t.is(undrained.instances[0]!.meta.nodeId, NODE_ID);
});

test('updateMeta never rejects: with the agent down it logs, and the next renewal publishes the merged meta', async (t) => {
  const { double, lines, register, watch } = await setup(t);
  const registration = register(NODE_ID);
  await watch.until((s) => s.instances.some((i) => i.id === 'front-1'));

  await double.stop();
  await t.notThrowsAsync(registration.updateMeta({ draining: true }));
  t.true(lines.some((l) => l.level === 40 && /cannot update discovery metadata/.test(l.msg)), 'a warning is logged');

  // A fresh agent (empty state): the registration's renewal registers again, with draining in its meta.
  await double.restart();
  const seen = await watch.until((s) => s.instances.some((i) => i.id === 'front-1' && i.meta.draining === true));
  t.is(seen.instances[0]!.meta.nodeId, NODE_ID);
});

test('after deregister, updateMeta is a no-op that neither rejects nor registers again', async (t) => {
  const { double, register } = await setup(t);
  const registration = register(NODE_ID);
  await registration.updateMeta({ load: 1 });
  t.deepEqual(double.serviceIds(), ['front-1']);
  await registration.deregister();
  t.deepEqual(double.serviceIds(), []);
  await t.notThrowsAsync(registration.updateMeta({ draining: true }));
  t.deepEqual(double.serviceIds(), []);
});
