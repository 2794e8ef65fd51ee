// The balancer role's pure parts: listen parsing, settings from configuration, static fronts,
// discovery instances as backends, HAProxy's `show stat`.
import test from 'ava';
import { loadConfig } from '../../src/config/load.js';
import { instancesToBackends, parseStaticFronts, embeddedEndpoint, DiscoverySetupError } from '../../src/balancer/discovery-feed.js';
import { balancerSettingsFromConfig, BalancerSettingsError, parseListen } from '../../src/balancer/settings.js';
import { parseStatCsv } from '../../src/balancer/planes.js';
import { frontInstance } from '../../src/front/registration.js';

const config = (...argv: string[]) => loadConfig({ argv, env: {} }).config;

test('listen: the default IPv4 + IPv6 pair becomes one dual-stack socket; other lists are kept', (t) => {
  t.deepEqual(parseListen(['0.0.0.0:9735', '[::]:9735']), [{ host: '::', port: 9735 }]);
  t.deepEqual(parseListen(['127.0.0.1:9735', '[::1]:9735']), [{ host: '127.0.0.1', port: 9735 }, { host: '::1', port: 9735 }]);
  t.deepEqual(parseListen(['0.0.0.0:0', '[::]:0']), [{ host: '0.0.0.0', port: 0 }, { host: '::', port: 0 }]);
  t.throws(() => parseListen(['nonsense']), { instanceOf: BalancerSettingsError });
});

test('settings: limits, idle timeout and health checks from configuration', (t) => {
  const s = balancerSettingsFromConfig(config('--balancer.max-connections-per-ip', '5', '--balancer.max-new-per-ip-per-second', '7', '--balancer.idle-timeout-ms', '1234'));
  t.like(s, { engine: 'builtin', workers: 1, idleTimeoutMs: 1234, torListen: null, healthCheck: null });
  t.like(s.limits, { maxConnectionsPerSource: 5, newConnectionsPerSecondPerSource: 7, newConnectionsBurstPerSource: 14, maxConnections: 20000 });
  t.like(balancerSettingsFromConfig(config('--discovery', 'consul')).healthCheck, { kind: 'http', sendProxyLocal: true });
  t.deepEqual(balancerSettingsFromConfig(config('--balancer.tor-listen', '127.0.0.1:9736')).torListen, { host: '127.0.0.1', port: 9736 });
  t.throws(() => balancerSettingsFromConfig(config('--balancer.engine', 'haproxy', '--balancer.tor-listen', '127.0.0.1:1')), { code: 'UNSUPPORTED' } as never);
});

test('static fronts and discovery instances as backends (draining meta, health URL)', (t) => {
  t.deepEqual(parseStaticFronts(['a@10.0.0.1:9735', 'b@[fd00::1]:9736']).map((i) => [i.id, i.address, i.port]), [
    ['a', '10.0.0.1', 9735],
    ['b', 'fd00::1', 9736],
  ]);
  t.throws(() => parseStaticFronts(['10.0.0.1:9735']), { instanceOf: DiscoverySetupError });
  t.throws(() => parseStaticFronts(['a@10.0.0.1:70000']), { instanceOf: DiscoverySetupError });
  const backends = instancesToBackends([
    { id: 'f1', service: 'lncluster-front', address: '10.0.0.1', port: 1, meta: { role: 'front', draining: true } },
    { id: 'f2', service: 'lncluster-front', address: '10.0.0.2', port: 2, meta: { role: 'front', healthUrl: 'http://10.0.0.2:8080/ready' } },
    { id: 'f3', service: 'lncluster-front', address: '10.0.0.3', port: 3, meta: { role: 'front', healthUrl: 'javascript:alert(1)' } },
  ]);
  t.deepEqual(backends, [
    { id: 'f1', host: '10.0.0.1', port: 1, state: 'draining' },
    { id: 'f2', host: '10.0.0.2', port: 2, state: 'ready', healthUrl: 'http://10.0.0.2:8080/ready' },
    { id: 'f3', host: '10.0.0.3', port: 3, state: 'ready' },
  ]);
});

test('embedded discovery without a running back is a clear error', (t) => {
  t.throws(() => embeddedEndpoint(config('--data-dir', '/nonexistent/lncluster')), { message: /start the back first/ });
});

test("a front's instance: advertised address, meta for the balancer", (t) => {
  const instance = frontInstance({ frontId: 'front-7', listen: '[fd00::7]:9735', opsUrl: 'http://10.0.0.7:9100', clusterAddress: '10.0.0.1:9736', nodeId: '02'.padEnd(66, 'a') });
  t.deepEqual(instance, {
    id: 'front-7',
    service: 'lncluster-front',
    address: 'fd00::7',
    port: 9735,
    meta: { role: 'front', nodeId: '02'.padEnd(66, 'a'), clusterAddress: '10.0.0.1:9736', healthUrl: 'http://10.0.0.7:9100/ready' },
  });
});

test('HAProxy show stat CSV by column name', (t) => {
  const rows = parseStatCsv(['# pxname,svname,qcur,qmax,scur,smax,slim,stot,status', 'fronts,front1,0,0,3,5,,42,UP', 'fronts,front2,0,0,0,0,,7,DRAIN', '']);
  t.deepEqual(rows.map((r) => [r['svname'], r['scur'], r['stot'], r['status']]), [
    ['front1', '3', '42', 'UP'],
    ['front2', '0', '7', 'DRAIN'],
  ]);
  t.deepEqual(parseStatCsv(['no header']), []);
});
