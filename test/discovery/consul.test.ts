import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { ConsulDiscovery, type ConsulDiscoveryOptions } from '../../src/discovery/consul.js';
import { DiscoveryError } from '../../src/discovery/errors.js';
import type { ServiceInstance } from '../../src/discovery/types.js';
import { ConsulDouble } from '../helpers/consul-double.js';
import { eventually, ids, readWatch } from './watch-helpers.js';

const SERVICE = 'lncluster-front';

function front(id: string, port = 9736, extra: Partial<ServiceInstance['meta']> = {}): ServiceInstance {
  return {
    id,
    service: SERVICE,
    address: '127.0.0.1',
    port,
    meta: { role: 'front', nodeId: '02'.padEnd(66, 'ab'), clusterAddress: '127.0.0.1:9999', load: 0, ...extra },
  };
}

interface Harness {
  double: ConsulDouble;
  discovery: ConsulDiscovery;
  errors: DiscoveryError[];
  abort: AbortController;
}

async function setup(
  t: { teardown(fn: () => Promise<void> | void): void },
  options: Partial<ConsulDiscoveryOptions> = {},
  doubleOptions: Parameters<typeof ConsulDouble.start>[0] = {},
): Promise<Harness> {
  const double = await ConsulDouble.start(doubleOptions);
  const errors: DiscoveryError[] = [];
  const discovery = new ConsulDiscovery({
    url: double.url,
    watchWaitMs: 30_000,
    watchMinIntervalMs: 0,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    requestTimeoutMs: 2_000,
    onError: (err) => errors.push(err),
    ...options,
  });
  const abort = new AbortController();
  t.teardown(async () => {
    abort.abort();
    await discovery.close();
    await double.stop();
  });
  return { double, discovery, errors, abort };
}

/** Registers a service straight through the HTTP API, as a front that is not using the adapter would. */
async function rawPut(double: ConsulDouble, path: string, body?: unknown): Promise<Response> {
  return fetch(`${double.url}${path}`, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

test('register makes the instance visible with its metadata; deregister removes it', async (t) => {
  const { double, discovery, abort } = await setup(t);
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => s.instances.length === 0);

  const registration = await discovery.register(front('front-1', 9736, { draining: false, healthUrl: 'http://127.0.0.1:8080/health' }), { ttlMs: 2_000 });
  t.deepEqual(double.serviceIds(), ['front-1']);
  const seen = await watch.until((s) => ids(s).includes('front-1'));
  t.deepEqual(seen.instances[0], {
    id: 'front-1',
    service: SERVICE,
    address: '127.0.0.1',
    port: 9736,
    meta: { role: 'front', nodeId: '02'.padEnd(66, 'ab'), clusterAddress: '127.0.0.1:9999', load: 0, draining: false, healthUrl: 'http://127.0.0.1:8080/health' },
  });

  await registration.deregister();
  t.deepEqual(double.serviceIds(), []);
  await watch.until((s) => s.instances.length === 0);
  await registration.deregister(); // idempotent
  await t.throwsAsync(registration.updateMeta({ load: 1 }), { instanceOf: DiscoveryError, message: /deregistered/ });
});

test('the TTL is renewed, and renewals alone do not wake watchers', async (t) => {
  const { double, discovery, abort } = await setup(t);
  await discovery.register(front('front-1'), { ttlMs: 1_500 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => ids(s).includes('front-1'));
  await eventually(() => double.requests.some((r) => r.path.startsWith('/v1/health/service/') && r.path.includes('index=')), 5_000, 'a blocking query');
  const healthQueries = double.countRequests('/v1/health/service/');

  // Several TTL periods (renewals go out every TTL/3): the check must stay passing throughout.
  await eventually(() => double.countRequests('/v1/agent/check/pass/service:front-1') >= 10, 15_000, 'ten renewals');
  t.is(double.checkStatus('service:front-1'), 'passing');
  t.deepEqual(watch.seen.map(ids), [['front-1']]);
  // Passing an already passing check moves no index: the blocking query is still the same one.
  t.is(double.countRequests('/v1/health/service/'), healthQueries);
});

test('a front that stops renewing its TTL leaves the watch; it comes back when it renews', async (t) => {
  const { double, discovery, abort } = await setup(t);
  await discovery.register(front('front-1'), { ttlMs: 5_000 });
  // front-2 is driven by hand so the test decides when it stops renewing.
  const reg = await rawPut(double, '/v1/agent/service/register', {
    Name: SERVICE,
    ID: 'front-2',
    Address: '127.0.0.1',
    Port: 9737,
    Meta: { role: 'front', load: '3' },
    Check: { TTL: '1s', DeregisterCriticalServiceAfter: '1m' },
  });
  t.is(reg.status, 200);
  const renew = async (): Promise<void> => {
    t.is((await rawPut(double, '/v1/agent/check/pass/service:front-2')).status, 200);
  };
  // Renews like a live front until told to stop (the interval is well under the TTL, even on a loaded machine).
  const keepRenewing = (): (() => void) => {
    void renew();
    const timer = setInterval(() => void renew(), 200);
    return () => clearInterval(timer);
  };

  let stopRenewing = keepRenewing();
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  const both = await watch.until((s) => ids(s).join() === 'front-1,front-2');
  t.is(both.instances[1]!.meta.load, 3);

  // It stops renewing: the TTL expires, the check turns critical, the watch drops front-2.
  stopRenewing();
  const gone = await watch.until((s) => ids(s).join() === 'front-1');
  t.is(double.checkStatus('service:front-2'), 'critical');

  stopRenewing = keepRenewing();
  t.teardown(stopRenewing);
  const back = await watch.until((s) => ids(s).join() === 'front-1,front-2');
  t.true(back.index > gone.index && gone.index > both.index);
});

test('a blocking query wakes on a change long before its wait, and the loop never runs hot', async (t) => {
  const { double, discovery, abort } = await setup(t, { watchWaitMs: 60_000 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => s.instances.length === 0);
  // Let the watch settle into a blocking query.
  await eventually(() => double.requests.some((r) => r.path.includes('/v1/health/service/') && r.path.includes('index=')), 5_000, 'a blocking query');
  const before = double.countRequests('/v1/health/service/');

  await discovery.register(front('front-1'), { ttlMs: 5_000 });
  const started = Date.now();
  await watch.until((s) => ids(s).includes('front-1'), 10_000);
  t.true(Date.now() - started < 10_000);
  const blocking = double.requests.filter((r) => r.path.startsWith('/v1/health/service/')).slice(-1)[0]!;
  t.regex(blocking.path, /passing=true/);
  t.regex(blocking.path, /wait=60000ms/);
  // One query woke up, one new query blocks: a couple of requests, not a poll loop.
  await eventually(() => double.countRequests('/v1/health/service/') >= before + 1, 5_000, 'next query');
  t.true(double.countRequests('/v1/health/service/') <= before + 3);
});

test('snapshot indexes are strictly increasing, also when Consul\'s index goes backwards', async (t) => {
  const { double, discovery, abort } = await setup(t, { watchWaitMs: 500 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await discovery.register(front('front-1'), { ttlMs: 5_000 });
  await watch.until((s) => ids(s).includes('front-1'));
  const highIndex = double.indexOf(SERVICE);

  // A restored raft snapshot: every index drops. The watch must reset to 0 and not miss the next change.
  double.rewindIndex(2);
  await eventually(
    () => double.requests.some((r, i) => i > 0 && r.path.startsWith(`/v1/health/service/${SERVICE}`) && !r.path.includes('index=') && double.indexOf(SERVICE) < highIndex),
    10_000,
    'a non-blocking query after the index went backwards',
  );
  await discovery.register(front('front-2', 9737), { ttlMs: 5_000 });
  await watch.until((s) => ids(s).join() === 'front-1,front-2');

  const indexes = watch.seen.map((s) => s.index);
  t.true(indexes.every((v, i) => i === 0 || v > indexes[i - 1]!), `indexes ${indexes.join()}`);
  t.is(indexes[0], 1);
});

test('Consul going away and coming back empty: the registration is redone and the watch resumes', async (t) => {
  const { double, discovery, errors, abort } = await setup(t);
  await discovery.register(front('front-1'), { ttlMs: 300 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => ids(s).join() === 'front-1');

  await double.stop();
  await eventually(() => errors.some((e) => e.code === 'DISCOVERY_UNAVAILABLE'), 5_000, 'an unavailable error');
  t.true(errors.every((e) => e.retryable));

  await double.restart(); // a fresh agent: no services, index restarted
  t.deepEqual(double.serviceIds(), []);
  // The TTL renewal gets "Unknown check ID": the adapter registers again.
  await eventually(() => double.serviceIds().includes('front-1'), 10_000, 're-registration');
  await eventually(() => double.checkStatus('service:front-1') === 'passing', 5_000, 'passing again');

  // The watch follows the new agent without being restarted.
  await rawPut(double, '/v1/agent/service/register', {
    Name: SERVICE, ID: 'front-2', Address: '127.0.0.1', Port: 9737, Meta: { role: 'front' }, Check: { TTL: '10s', Status: 'passing' },
  });
  const after = await watch.until((s) => ids(s).join() === 'front-1,front-2');
  t.true(after.index > watch.seen[0]!.index);
});

test('register waits for an agent that is not up yet', async (t) => {
  const { double, discovery, errors } = await setup(t);
  await double.stop();
  const pending = discovery.register(front('front-1'), { ttlMs: 1_000 });
  await eventually(() => errors.length >= 2, 5_000, 'retries');
  await double.restart();
  const registration = await pending;
  t.is(registration.id, 'front-1');
  t.deepEqual(double.serviceIds(), ['front-1']);
  t.is(double.checkStatus('service:front-1'), 'passing');
});

test('register gives up when its signal aborts while the agent is down', async (t) => {
  const { double, discovery } = await setup(t);
  await double.stop();
  const cancel = new AbortController();
  const pending = discovery.register(front('front-1'), { signal: cancel.signal });
  setTimeout(() => cancel.abort(), 100);
  await t.throwsAsync(pending, { instanceOf: DiscoveryError, code: 'DISCOVERY_ABORTED' });
});

test('updateMeta publishes new metadata to watchers', async (t) => {
  const { discovery, abort } = await setup(t);
  const registration = await discovery.register(front('front-1'), { ttlMs: 2_000 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => s.instances[0]?.meta.load === 0);
  await registration.updateMeta({ load: 17, draining: true });
  const updated = await watch.until((s) => s.instances[0]?.meta.load === 17);
  t.is(updated.instances[0]!.meta.draining, true);
  t.is(updated.instances[0]!.meta.role, 'front');
  await t.throwsAsync(registration.updateMeta({ 'bad key': 'x' }), { instanceOf: DiscoveryError, code: 'DISCOVERY_INVALID_INSTANCE' });
});

test('an HTTP check run by the agent decides health; a forgotten registration is redone', async (t) => {
  const { double, discovery, abort } = await setup(t);
  let healthy = true;
  const health = http.createServer((_req, res) => {
    res.statusCode = healthy ? 200 : 503;
    res.end(healthy ? 'ok' : 'down');
  });
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => health.close(() => resolve())));
  const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;

  await discovery.register(front('front-1'), { httpCheckUrl: url, httpCheckIntervalMs: 100 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => ids(s).includes('front-1'));
  healthy = false;
  await watch.until((s) => s.instances.length === 0);
  healthy = true;
  await watch.until((s) => ids(s).includes('front-1'));

  await double.restart();
  await eventually(() => double.serviceIds().includes('front-1'), 10_000, 're-registration');
  await eventually(() => double.checkStatus('service:front-1') === 'passing', 5_000, 'HTTP check passing');
  t.is(double.countRequests('/v1/agent/check/pass/'), 0);
});

test('ACL errors surface as typed errors carrying Consul\'s text', async (t) => {
  const acl = { tokens: { 'good-token': 'write' as const, 'read-token': 'read' as const }, anonymous: 'none' as const };
  const { double } = await setup(t, {}, { acl });

  const unknown = new ConsulDiscovery({ url: double.url, token: 'no-such-token', requestTimeoutMs: 2_000 });
  t.teardown(() => unknown.close());
  const notFound = await t.throwsAsync(unknown.register(front('front-1')), { instanceOf: DiscoveryError });
  t.is(notFound?.code, 'DISCOVERY_ACL');
  t.is(notFound?.status, 403);
  t.is(notFound?.registryMessage, 'ACL not found');
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const watchEnd = await readWatch(unknown.watch(SERVICE, abort.signal)).ended;
  t.true(watchEnd instanceof DiscoveryError && watchEnd.code === 'DISCOVERY_ACL' && watchEnd.registryMessage === 'ACL not found');

  const reader = new ConsulDiscovery({ url: double.url, token: 'read-token', requestTimeoutMs: 2_000 });
  t.teardown(() => reader.close());
  const denied = await t.throwsAsync(reader.register(front('front-1')), { instanceOf: DiscoveryError });
  t.is(denied?.code, 'DISCOVERY_ACL');
  t.regex(denied?.registryMessage ?? '', /^Permission denied: token with AccessorID '.+' lacks permission 'service:write' on "lncluster-front"$/);

  const writer = new ConsulDiscovery({ url: double.url, token: 'good-token', requestTimeoutMs: 2_000 });
  t.teardown(() => writer.close());
  await writer.register(front('front-1'), { ttlMs: 2_000 });
  const seen = await readWatch(reader.watch(SERVICE, abort.signal)).until((s) => s.instances.length === 1);
  t.deepEqual(ids(seen), ['front-1']);
});

test('the datacenter is sent; an unknown one is reported and retried, not fatal', async (t) => {
  const { double, discovery, errors, abort } = await setup(t, { datacenter: 'dc9' });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await eventually(() => errors.length >= 2, 5_000, 'two reported errors');
  t.is(errors[0]!.status, 500);
  t.is(errors[0]!.registryMessage, 'No path to datacenter');
  t.true(double.requests.some((r) => r.path.includes('dc=dc9')));
  t.is(watch.seen.length, 0);
  abort.abort();
  t.is(await watch.ended, 'done');
});

test('invalid instances and options are rejected before reaching Consul', async (t) => {
  const { double, discovery } = await setup(t);
  await t.throwsAsync(discovery.register({ ...front('front-1'), port: 0 }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await t.throwsAsync(discovery.register({ ...front('a/b') }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await t.throwsAsync(discovery.register({ ...front('front-1'), address: '0.0.0.0' }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await t.throwsAsync(discovery.register(front('front-1', 9736, { 'consul-x': 'y' })), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await t.throwsAsync(discovery.register(front('front-1'), { ttlMs: 10 }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  await t.throwsAsync(discovery.register(front('front-1'), { httpCheckUrl: 'ftp://x' }), { code: 'DISCOVERY_INVALID_INSTANCE' });
  t.throws(() => discovery.watch('', new AbortController().signal), { code: 'DISCOVERY_INVALID_INSTANCE' });
  t.is(double.requests.length, 0);
});

test('entries not registered by lncluster are skipped; the service address falls back to the node\'s', async (t) => {
  const { double, discovery, abort } = await setup(t);
  await rawPut(double, '/v1/agent/service/register', { Name: SERVICE, ID: 'foreign', Port: 1, Meta: { owner: 'someone' }, Check: { TTL: '10s', Status: 'passing' } });
  await rawPut(double, '/v1/agent/service/register', { Name: SERVICE, ID: 'no-address', Port: 9740, Meta: { role: 'front', load: 'x' }, Check: { TTL: '10s', Status: 'passing' } });
  const seen = await readWatch(discovery.watch(SERVICE, abort.signal)).until((s) => s.instances.length > 0);
  t.deepEqual(seen.instances, [{ id: 'no-address', service: SERVICE, address: '127.0.0.1', port: 9740, meta: { role: 'front' } }]);
});

test('close ends watches and stops renewals', async (t) => {
  const { double, discovery, abort } = await setup(t);
  await discovery.register(front('front-1'), { ttlMs: 300 });
  const watch = readWatch(discovery.watch(SERVICE, abort.signal));
  await watch.until((s) => s.instances.length === 1);
  await discovery.close();
  t.is(await watch.ended, 'done');
  const renewals = double.countRequests('/v1/agent/check/pass/');
  await eventually(() => double.checkStatus('service:front-1') === 'critical', 5_000, 'TTL expiry after close');
  t.is(double.countRequests('/v1/agent/check/pass/'), renewals);
  await t.throwsAsync(discovery.register(front('front-2')), { code: 'DISCOVERY_ABORTED' });
});
