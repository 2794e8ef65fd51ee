/**
 * The Consul double's own behaviour, checked over plain HTTP: these are the Consul semantics the
 * adapter tests rely on (texts and status codes from agent/agent_endpoint.go, agent/http.go,
 * agent/health_endpoint.go; blocking rules from api-docs/features/blocking.mdx).
 */
import test from 'ava';
import { ConsulDouble, parseGoDuration, type ConsulDoubleOptions } from '../helpers/consul-double.js';
import { eventually } from './watch-helpers.js';

async function start(t: { teardown(fn: () => Promise<void>): void }, options: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
  const double = await ConsulDouble.start(options);
  t.teardown(() => double.stop());
  return double;
}

function put(double: ConsulDouble, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${double.url}${path}`, {
    method: 'PUT',
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

function get(double: ConsulDouble, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${double.url}${path}`, { headers });
}

const web = (id: string, check: Record<string, unknown> = { TTL: '10s' }): Record<string, unknown> => ({
  Name: 'web',
  ID: id,
  Address: '127.0.0.1',
  Port: 8080,
  Meta: { role: 'front' },
  Check: check,
});

test('register, health entries and the passing filter', async (t) => {
  const double = await start(t);
  t.is((await put(double, '/v1/agent/service/register', web('web-1'))).status, 200);
  t.is((await put(double, '/v1/agent/service/register', web('web-2', { TTL: '10s', Status: 'passing' }))).status, 200);

  const all = await get(double, '/v1/health/service/web');
  t.is(all.headers.get('content-type'), 'application/json');
  t.is(all.headers.get('x-consul-knownleader'), 'true');
  t.is(all.headers.get('x-consul-lastcontact'), '0');
  t.true(Number(all.headers.get('x-consul-index')) > 0);
  const entries = (await all.json()) as Array<{ Service: { ID: string; Meta: unknown }; Checks: Array<{ CheckID: string; Status: string; Name: string }> }>;
  t.deepEqual(entries.map((e) => e.Service.ID).sort(), ['web-1', 'web-2']);
  const first = entries.find((e) => e.Service.ID === 'web-1')!;
  t.deepEqual(first.Service.Meta, { role: 'front' });
  // A new TTL check starts critical; the node's serfHealth check is always there.
  t.deepEqual(first.Checks.map((c) => [c.CheckID, c.Status]), [['serfHealth', 'passing'], ['service:web-1', 'critical']]);
  t.is(first.Checks[1]!.Name, "Service 'web' check");

  const passing = (await (await get(double, '/v1/health/service/web?passing')).json()) as Array<{ Service: { ID: string } }>;
  t.deepEqual(passing.map((e) => e.Service.ID), ['web-2']);
  t.is((await (await get(double, '/v1/health/service/web?passing=false')).json() as unknown[]).length, 2);
  const bad = await get(double, '/v1/health/service/web?passing=maybe');
  t.is(bad.status, 400);
  t.is(await bad.text(), 'Invalid value for ?passing');

  const services = (await (await get(double, '/v1/agent/services')).json()) as Record<string, { Service: string }>;
  t.deepEqual(Object.keys(services).sort(), ['web-1', 'web-2']);
});

test('check pass/warn/fail, unknown checks and non-TTL checks answer as Consul does', async (t) => {
  const double = await start(t);
  await put(double, '/v1/agent/service/register', web('web-1'));
  t.is((await put(double, '/v1/agent/check/pass/service:web-1?note=ok')).status, 200);
  t.is(double.checkStatus('service:web-1'), 'passing');
  t.is((await put(double, '/v1/agent/check/warn/service:web-1')).status, 200);
  t.is(double.checkStatus('service:web-1'), 'warning');
  t.is((await put(double, '/v1/agent/check/fail/service:web-1')).status, 200);
  t.is(double.checkStatus('service:web-1'), 'critical');

  const unknown = await put(double, '/v1/agent/check/pass/service:nope');
  t.is(unknown.status, 404);
  t.is(unknown.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.is(await unknown.text(), 'Unknown check ID "service:nope". Ensure that the check ID is passed, not the check name.');

  await put(double, '/v1/agent/service/register', web('web-http', { HTTP: 'http://127.0.0.1:1/health', Interval: '1h' }));
  const notTtl = await put(double, '/v1/agent/check/pass/service:web-http');
  t.is(notTtl.status, 500);
  t.is(await notTtl.text(), 'CheckID "service:web-http" does not have associated TTL');

  const wrongMethod = await get(double, '/v1/agent/check/pass/service:web-1');
  t.is(wrongMethod.status, 405);
  t.is(wrongMethod.headers.get('allow'), 'OPTIONS,PUT');

  const unknownService = await put(double, '/v1/agent/service/deregister/nope');
  t.is(unknownService.status, 404);
  t.is(await unknownService.text(), 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.');
  t.is((await put(double, '/v1/agent/service/deregister/web-1')).status, 200);
  t.deepEqual(double.serviceIds(), ['web-http']);
});

test('registration bodies are validated with Consul\'s messages', async (t) => {
  const double = await start(t);
  const cases: Array<[unknown, number, string | RegExp]> = [
    ['', 400, 'Request decode failed: EOF'],
    ['{"Name":', 400, 'Request decode failed: unexpected EOF'],
    ['nope', 400, /^Request decode failed: invalid character 'n'/],
    [{ ID: 'x' }, 400, 'Missing service name'],
    [{ Name: 'web', Address: '0.0.0.0' }, 400, 'Invalid service address'],
    [{ Name: 'web', Meta: { load: 3 } }, 400, 'Request decode failed: json: cannot unmarshal number into Go struct field ServiceDefinition.Meta of type string'],
    [{ Name: 'web', Meta: { 'consul-x': '1' } }, 400, "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use"],
    [{ Name: 'web', Check: { TTL: 'soon' } }, 400, 'Request decode failed: time: invalid duration "soon"'],
    [{ Name: 'web', Check: { HTTP: 'http://x/' } }, 400, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [{ Name: 'web', Check: { Notes: 'x' } }, 400, 'Invalid check: TTL must be > 0 for TTL checks'],
    [{ Name: 'web', Check: { TTL: '1s', Interval: '1s' } }, 400, 'Invalid check: Interval and TTL cannot both be specified'],
    [{ Name: 'web', Check: { TTL: '1s', Status: 'fine' } }, 400, "Status for checks must 'passing', 'warning', 'critical'"],
    // snake_case keys are accepted, as by Consul's decoder.
    [{ name: 'web', id: 'snake', check: { ttl: '1s', deregister_critical_service_after: '90s' } }, 200, ''],
  ];
  for (const [body, status, text] of cases) {
    const res = await put(double, '/v1/agent/service/register', body);
    const got = await res.text();
    t.is(res.status, status, JSON.stringify(body));
    if (typeof text === 'string') t.is(got, text);
    else t.regex(got, text);
  }
  t.deepEqual(double.serviceIds(), ['snake']);
});

test('blocking queries return on a change, or after wait with the same index', async (t) => {
  const double = await start(t);
  await put(double, '/v1/agent/service/register', web('web-1', { TTL: '10s', Status: 'passing' }));
  const first = await get(double, '/v1/health/service/web');
  const index = Number(first.headers.get('x-consul-index'));

  // Nothing changes: the query returns after wait (+ up to wait/16) with the same index.
  const idle = await get(double, `/v1/health/service/web?index=${index}&wait=100ms`);
  t.is(Number(idle.headers.get('x-consul-index')), index);

  // A renewal of an already passing check changes no index either.
  const blocked = get(double, `/v1/health/service/web?index=${index}&wait=5s`);
  let settled = false;
  void blocked.then(() => (settled = true));
  await put(double, '/v1/agent/check/pass/service:web-1');
  t.is(double.indexOf('web'), index);
  await new Promise((r) => setImmediate(r));
  t.false(settled);
  // A status change wakes it at once.
  await put(double, '/v1/agent/check/fail/service:web-1');
  const woken = await blocked;
  t.true(Number(woken.headers.get('x-consul-index')) > index);
  t.deepEqual(await woken.json(), (await (await get(double, '/v1/health/service/web')).json()));

  const badWait = await get(double, `/v1/health/service/web?index=${index}&wait=forever`);
  t.is(badWait.status, 400);
  t.is(await badWait.text(), 'Invalid wait time');
  const badIndex = await get(double, '/v1/health/service/web?index=-1');
  t.is(badIndex.status, 400);
  t.is(await badIndex.text(), 'Invalid index');
  const otherDc = await get(double, '/v1/health/service/web?dc=elsewhere');
  t.is(otherDc.status, 500);
  t.is(await otherDc.text(), 'No path to datacenter');
  t.is((await get(double, '/v1/health/service/web?dc=dc1')).status, 200);
  // An unknown service still has a usable (non-zero) index.
  t.true(Number((await get(double, '/v1/health/service/none')).headers.get('x-consul-index')) >= 1);
});

test('TTL expiry turns a check critical, and DeregisterCriticalServiceAfter reaps the service', async (t) => {
  const double = await start(t, { reapIntervalMs: 30, deregisterMinMs: 1_000 });
  await put(double, '/v1/agent/service/register', web('web-1', { TTL: '500ms', Status: 'passing', DeregisterCriticalServiceAfter: '1ms' }));
  await put(double, '/v1/agent/check/pass/service:web-1?note=fine');
  t.is(double.checkStatus('service:web-1'), 'passing');
  await eventually(() => double.checkStatus('service:web-1') === 'critical', 5_000, 'TTL expiry');
  const checks = (await (await get(double, '/v1/agent/checks')).json()) as Record<string, { Output: string }>;
  t.is(checks['service:web-1']!.Output, 'TTL expired (last output before timeout follows): fine');
  // DeregisterCriticalServiceAfter is raised to the minimum (1 minute in Consul, 1 s here), then reaped.
  await eventually(() => double.serviceIds().length === 0, 5_000, 'reaping');
  t.is(double.checkStatus('service:web-1'), undefined);
});

test('re-registering keeps the status of existing checks', async (t) => {
  const double = await start(t);
  await put(double, '/v1/agent/service/register', web('web-1'));
  await put(double, '/v1/agent/check/pass/service:web-1');
  await put(double, '/v1/agent/service/register', { ...web('web-1'), Meta: { role: 'front', load: '9' } });
  t.is(double.checkStatus('service:web-1'), 'passing');
  const entries = (await (await get(double, '/v1/health/service/web?passing')).json()) as Array<{ Service: { Meta: Record<string, string> } }>;
  t.is(entries[0]!.Service.Meta['load'], '9');
});

test('ACLs: unknown tokens, missing rights, filtered reads', async (t) => {
  const double = await start(t, { acl: { tokens: { writer: 'write', reader: 'read' }, anonymous: 'none' } });
  const unknown = await put(double, '/v1/agent/service/register', web('web-1'), { 'X-Consul-Token': 'who' });
  t.is(unknown.status, 403);
  t.is(await unknown.text(), 'ACL not found');
  const denied = await put(double, '/v1/agent/service/register', web('web-1'), { 'X-Consul-Token': 'reader' });
  t.is(denied.status, 403);
  t.regex(await denied.text(), /^Permission denied: token with AccessorID '[0-9a-f-]+' lacks permission 'service:write' on "web"$/);
  t.is((await put(double, '/v1/agent/service/register', web('web-1', { TTL: '10s', Status: 'passing' }), { Authorization: 'Bearer writer' })).status, 200);

  const anonymous = await get(double, '/v1/health/service/web');
  t.is(anonymous.status, 200);
  t.deepEqual(await anonymous.json(), []);
  t.is(anonymous.headers.get('x-consul-results-filtered-by-acls'), 'true');
  const read = (await (await get(double, '/v1/health/service/web?token=reader')).json()) as unknown[];
  t.is(read.length, 1);
  t.is((await get(double, '/v1/health/service/web', { 'X-Consul-Token': 'who' })).status, 403);
});

test('HTTP checks are run by the double at their interval', async (t) => {
  const double = await start(t);
  // The double probes its own endpoints: one answers 200, the other 404.
  await put(double, '/v1/agent/service/register', web('web-1', { HTTP: `${double.url}/v1/status/leader`, Interval: '50ms' }));
  await eventually(() => double.checkStatus('service:web-1') === 'passing', 5_000, 'HTTP check passing');
  await put(double, '/v1/agent/service/register', web('web-2', { HTTP: `${double.url}/v1/nothing`, Interval: '50ms', Status: 'passing' }));
  await eventually(() => double.checkStatus('service:web-2') === 'critical', 5_000, 'HTTP check failing');
  const checks = (await (await get(double, '/v1/agent/checks')).json()) as Record<string, { Output: string; Type: string }>;
  t.regex(checks['service:web-2']!.Output, /^HTTP GET http:\/\/127\.0\.0\.1:\d+\/v1\/nothing: 404 Not Found Output: Invalid URL path/);
  t.is(checks['service:web-2']!.Type, 'http');
});

test('restart forgets everything and restarts the index; stop cuts blocking queries', async (t) => {
  const double = await start(t);
  await put(double, '/v1/agent/service/register', web('web-1'));
  for (let i = 0; i < 5; i++) await put(double, '/v1/agent/check/' + (i % 2 ? 'pass' : 'fail') + '/service:web-1');
  const before = double.indexOf('web');
  const port = double.port;
  const blocked = get(double, `/v1/health/service/web?index=${before}&wait=10s`).then(
    () => 'answered',
    () => 'cut',
  );
  await eventually(() => double.requests.some((r) => r.path.includes(`index=${before}`)), 2_000);
  await double.restart();
  t.is(await blocked, 'cut');
  t.is(double.port, port);
  t.deepEqual(double.serviceIds(), []);
  t.true(double.indexOf('web') < before);
  t.is((await get(double, '/v1/status/leader')).status, 200);
});

test('Go durations are parsed like time.ParseDuration', (t) => {
  t.is(parseGoDuration('1m30s'), 90_000);
  t.is(parseGoDuration('250ms'), 250);
  t.is(parseGoDuration('1.5s'), 1_500);
  t.is(parseGoDuration('0'), 0);
  t.is(parseGoDuration('10'), undefined);
  t.is(parseGoDuration('s'), undefined);
});
