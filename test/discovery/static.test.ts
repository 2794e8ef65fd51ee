import test from 'ava';
import { DiscoveryError } from '../../src/discovery/errors.js';
import { decodeMeta, encodeMeta, validateInstance } from '../../src/discovery/meta.js';
import { StaticDiscovery } from '../../src/discovery/static.js';
import type { ServiceInstance } from '../../src/discovery/types.js';
import { readWatch } from './watch-helpers.js';

const instance = (id: string, service = 'lncluster-front', port = 9736): ServiceInstance => ({
  id,
  service,
  address: '127.0.0.1',
  port,
  meta: { role: 'front', load: 2 },
});

test('static discovery yields the listed instances of a service once, then stays open until aborted', async (t) => {
  const discovery = new StaticDiscovery([instance('front-2'), instance('front-1'), instance('back', 'lncluster-back', 9800)]);
  const abort = new AbortController();
  const watch = readWatch(discovery.watch('lncluster-front', abort.signal));
  const first = await watch.until(() => true);
  t.deepEqual(first, { index: 1, instances: [instance('front-1'), instance('front-2')] });
  // Mutating a snapshot must not leak into another watcher's view.
  first.instances[0]!.meta.load = 99;
  const again = await readWatch(discovery.watch('lncluster-front', abort.signal)).until(() => true);
  t.is(again.instances[0]!.meta.load, 2);

  let ended = false;
  void watch.ended.then(() => (ended = true));
  await new Promise((r) => setImmediate(r));
  t.false(ended);
  abort.abort();
  t.is(await watch.ended, 'done');
  t.is(watch.seen.length, 1);
});

test('static discovery: empty service, register as a no-op, close ends watches', async (t) => {
  const discovery = new StaticDiscovery([instance('front-1')]);
  const watch = readWatch(discovery.watch('unknown', new AbortController().signal));
  t.deepEqual((await watch.until(() => true)).instances, []);
  const registration = await discovery.register(instance('front-9'));
  t.is(registration.id, 'front-9');
  await registration.updateMeta({ load: 1 });
  await registration.deregister();
  await t.throwsAsync(registration.updateMeta({ load: 1 }), { instanceOf: DiscoveryError, code: 'DISCOVERY_DEREGISTERED' });
  await t.throwsAsync(discovery.register({ ...instance('x'), port: 70000 }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await discovery.close();
  t.is(await watch.ended, 'done');
});

test('static discovery rejects an invalid or duplicated list', (t) => {
  t.throws(() => new StaticDiscovery([instance('a'), instance('a')]), { code: 'DISCOVERY_INVALID_INSTANCE' });
  t.throws(() => new StaticDiscovery([{ ...instance('a'), address: '' }]), { code: 'DISCOVERY_INVALID_INSTANCE' });
});

test('meta round-trips through Consul\'s string map with its types', (t) => {
  const meta = { role: 'front' as const, nodeId: '02ab', load: 12.5, draining: true, healthUrl: 'http://h/health', zone: 'a', skipped: undefined };
  const encoded = encodeMeta(meta);
  t.deepEqual(encoded, { role: 'front', nodeId: '02ab', load: '12.5', draining: 'true', healthUrl: 'http://h/health', zone: 'a' });
  t.deepEqual(decodeMeta(encoded), { role: 'front', nodeId: '02ab', load: 12.5, draining: true, healthUrl: 'http://h/health', zone: 'a' });
  // Values that do not parse are dropped, a missing or unknown role makes the entry foreign.
  t.deepEqual(decodeMeta({ role: 'back', load: 'lots', draining: 'maybe' }), { role: 'back' });
  t.is(decodeMeta({ role: 'admin' }), undefined);
  t.is(decodeMeta(null), undefined);
});

test('meta and instance validation follow the registry\'s limits', (t) => {
  const bad: Array<Record<string, unknown>> = [
    { role: 'nobody' },
    { role: 'front', 'has space': 'x' },
    { role: 'front', ['k'.repeat(129)]: 'x' },
    { role: 'front', 'consul-reserved': 'x' },
    { role: 'front', big: 'v'.repeat(513) },
    { role: 'front', load: Number.NaN },
    { role: 'front', nested: { a: 1 } },
    { role: 'front', ...Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'])) },
  ];
  for (const meta of bad) {
    t.throws(() => encodeMeta(meta as never), { code: 'DISCOVERY_INVALID_INSTANCE' }, JSON.stringify(meta).slice(0, 60));
  }
  t.notThrows(() => encodeMeta({ role: 'front', ...Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v'])) }));
  for (const broken of [{ ...instance('a'), port: 1.5 }, { ...instance('a'), id: 'a\nb' }, { ...instance('a'), service: 'x?y' }, { ...instance('a'), address: '::' }]) {
    t.throws(() => validateInstance(broken), { code: 'DISCOVERY_INVALID_INSTANCE' });
  }
  t.notThrows(() => validateInstance({ ...instance('a'), address: '::1' }));
});
