import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import {
  DEFAULT_HAPROXY_OPTIONS,
  HaproxyDataPlane,
  findHaproxyBinary,
  generateHaproxyConfig,
  parseServersState,
} from '../../src/balancer/haproxy.js';
import { echoOnce, freePort, startEchoBackend, until } from './helpers.js';

const binary = await findHaproxyBinary();
const haproxyTest = binary ? test : test.skip;
if (!binary) {
  if (process.env.CI === 'true') {
    test('haproxy is installed (required in CI)', (t) => t.fail('haproxy not found on PATH or in /usr/sbin: CI must install the haproxy package'));
  } else {
    console.warn('haproxy is not installed: the HAProxy data-plane tests are skipped (apt-get install haproxy)');
  }
}

test('generated config: tcp mode, leastconn, send-proxy-v2, disabled template slots, admin runtime socket', (t) => {
  const cfg = generateHaproxyConfig({ ...DEFAULT_HAPROXY_OPTIONS, listen: [{ host: '::', port: 9735 }, { host: '127.0.0.1', port: 9736 }], slots: 8 }, '/run/x/admin.sock');
  t.regex(cfg, /stats socket \/run\/x\/admin\.sock mode 600 level admin/);
  t.regex(cfg, /mode tcp/);
  t.regex(cfg, /bind :::9735 v4v6/);
  t.regex(cfg, /bind 127\.0\.0\.1:9736/);
  t.regex(cfg, /balance leastconn/);
  t.regex(cfg, /default-server send-proxy-v2 check check-send-proxy/);
  t.regex(cfg, /server-template front 1-8 127\.0\.0\.1:1 disabled/);
  t.regex(cfg, /timeout connect 3000ms/);
  t.throws(() => generateHaproxyConfig({ ...DEFAULT_HAPROXY_OPTIONS, backendName: 'a b' }, '/tmp/s'));
});

test('show servers state is parsed by column name', (t) => {
  const lines = [
    '1',
    '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
    '3 fronts 1 front1 127.0.0.1 2 4 1 1 2 6 3 4 6 0 0 0 - 39920 - 0 0 - - 0',
    '3 fronts 2 front2 127.0.0.1 0 5 1 1 9 1 0 0 14 0 0 0 - 1 - 0 0 - - 0',
    '3 fronts 3 front3 10.0.0.2 2 12 1 1 9 1 0 0 14 0 0 0 - 9735 - 0 0 - - 0',
  ];
  const s = parseServersState(lines);
  t.deepEqual(
    s.map((x) => [x.name, x.address, x.port, x.mode, x.up]),
    [
      ['front1', '127.0.0.1', 39920, 'ready', true],
      ['front2', '127.0.0.1', 1, 'maint', false],
      ['front3', '10.0.0.2', 9735, 'drain', true],
    ],
  );
});

haproxyTest('HAProxy: one front drained, one killed, clients still connect and fronts see the real client address', async (t) => {
  const fronts = await Promise.all(['a', 'b', 'c'].map((id) => startEchoBackend(id)));
  const port = await freePort();
  const haproxy = new HaproxyDataPlane({
    listen: [{ host: '127.0.0.1', port }],
    slots: 4,
    healthCheck: { intervalMs: 300, fall: 2, rise: 1 },
    connectTimeoutMs: 1_000,
  });
  t.teardown(async () => {
    await haproxy.stop();
    await Promise.all(fronts.map((f) => f.close()));
  });
  await haproxy.start();
  t.truthy(haproxy.pid);
  const snapshot = fronts.map((f) => ({ id: f.id, host: '127.0.0.1', port: f.port }));
  const report = await haproxy.sync(snapshot);
  t.deepEqual(report.errors, []);
  let state = await haproxy.serversState();
  t.deepEqual(
    state.filter((s) => s.mode === 'ready').map((s) => s.port).sort(),
    fronts.map((f) => f.port).sort(),
  );
  t.is(state.filter((s) => s.mode === 'maint').length, 1); // the spare slot

  // The real client address travels in the PROXY v2 header.
  const first = await echoOnce(port, 'hello', { localAddress: '127.0.0.2', keepOpen: true });
  t.is(first.reply, 'hello');
  await until(() => fronts.some((f) => f.accepted.length > 0), 5_000, 'accepted');
  const carrier = fronts.find((f) => f.accepted.length > 0)!;
  const conn = carrier.accepted[0]!;
  t.true(conn.viaProxy);
  t.is(conn.remoteAddress, '127.0.0.2');
  t.is(conn.remotePort, first.socket.localPort!);
  t.is(conn.localPort, port);

  // Drain the front that carries that connection, kill another one.
  const drained = carrier;
  const killed = fronts.find((f) => f !== drained)!;
  const survivor = fronts.find((f) => f !== drained && f !== killed)!;
  t.deepEqual((await haproxy.drain(drained.id)).errors, []);
  await killed.close();
  const drainedBefore = drained.accepted.length;
  const killedBefore = killed.accepted.length;
  const survivorBefore = survivor.accepted.length;
  for (let i = 0; i < 20; i++) t.is((await echoOnce(port, `after ${i}`)).reply, `after ${i}`);
  t.is(drained.accepted.length, drainedBefore, 'a drained front got a new connection');
  t.is(killed.accepted.length, killedBefore);
  t.is(survivor.accepted.length - survivorBefore, 20);
  // The connection opened before the drain still works.
  first.socket.write('still');
  t.is(((await once(first.socket, 'data')) as [Buffer])[0].toString(), 'still');
  first.socket.destroy();

  state = await haproxy.serversState();
  t.is(state.find((s) => s.name === haproxy.serverFor(drained.id))?.mode, 'drain');

  // The killed front leaves discovery: its slot goes to maintenance and is reused by a newcomer.
  const killedSlot = haproxy.serverFor(killed.id);
  const newcomer = await startEchoBackend('d');
  t.teardown(() => newcomer.close());
  const next = snapshot.filter((s) => s.id !== killed.id).concat({ id: 'd', host: '127.0.0.1', port: newcomer.port });
  t.deepEqual((await haproxy.sync(next)).errors, []);
  t.is(haproxy.serverFor('d'), killedSlot);
  state = await haproxy.serversState();
  t.is(state.find((s) => s.name === killedSlot)?.port, newcomer.port);
  for (let i = 0; i < 6; i++) await echoOnce(port, `new ${i}`);
  t.true(newcomer.accepted.length > 0);
  t.is(haproxy.recentOutput().filter((l) => /ALERT/.test(l) && /config/i.test(l)).length, 0);
});

haproxyTest('HAProxy: the process is stopped and the runtime API refuses afterwards', async (t) => {
  const haproxy = new HaproxyDataPlane({ listen: [{ host: '127.0.0.1', port: await freePort() }], slots: 2, healthCheck: null });
  await haproxy.start();
  const pid = haproxy.pid!;
  t.true((await haproxy.command('show info')).some((l) => l.startsWith('Name: HAProxy')));
  await haproxy.stop();
  t.throws(() => process.kill(pid, 0));
  await t.throwsAsync(haproxy.command('show info'), { message: /not running/ });
  t.is(net.isIP('127.0.0.1'), 4);
});
