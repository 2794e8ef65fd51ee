import test from 'ava';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { loadNodeKey, NodeKeyError } from '../../src/config/node-key.js';

const dir = mkdtempSync(join(tmpdir(), 'lncluster-config-'));

test('defaults < file < environment < flags, each source recorded', (t) => {
  const file = join(dir, 'front.conf');
  writeFileSync(file, '# a front\nfront.max-peers = 100\nnetwork = testnet # inline comment\nfront.proxy-trusted = 10.0.0.1, 10.0.0.2\n');
  const { config, sources, rest } = loadConfig({
    argv: ['--config', file, '--network=signet', '--json', '--fronts', '3'],
    env: { LNCLUSTER_FRONT_MAX_PEERS: '200', BACKEND_IP: '10.1.2.3' },
    commandFlagsWithValue: ['--fronts'],
  });
  t.is(config.network, 'signet');
  t.is(sources.network, 'flag --network');
  t.is(config['front.max-peers'], 200);
  t.is(sources['front.max-peers'], 'env LNCLUSTER_FRONT_MAX_PEERS');
  t.deepEqual(config['front.proxy-trusted'], ['10.0.0.1', '10.0.0.2']);
  t.is(config['front.back'], '10.1.2.3:9736');
  t.is(config['peer.ping-interval-ms'], 30000);
  t.deepEqual(rest, ['--json', '--fronts', '3']);
});

test('every problem names key, value, expected form and source; unknown keys reported', (t) => {
  const file = join(dir, 'bad.conf');
  writeFileSync(file, 'front.max-peerz = 3\nfront.listen = nowhere\n');
  const error = t.throws(() => loadConfig({ argv: ['--config', file, '--network', 'mainnet'], env: { NODE_PUB_KEY: 'abc' } }), { instanceOf: ConfigError });
  const byKey = new Map(error!.problems.map((p) => [p.key, p]));
  t.regex(byKey.get('front.max-peerz')!.expected, /did you mean front.max-peers/);
  t.is(byKey.get('front.listen')!.value, 'nowhere');
  t.is(byKey.get('front.listen')!.source, `file ${file}`);
  t.is(byKey.get('network')!.source, 'flag --network');
  t.is(byKey.get('node-id')!.source, 'env NODE_PUB_KEY');
  t.regex(error!.message, /network = "mainnet" \(from flag --network\): expected/);
});

test('secrets are never echoed in errors', (t) => {
  const error = t.throws(() => loadConfig({ argv: ['--front.listen', 'x'], env: { CLUSTER_TLS_PASSWORD: 'hunter2' } }), { instanceOf: ConfigError });
  t.notRegex(error!.message, /hunter2/);
});

test('node key file must be private and match NODE_PUB_KEY', async (t) => {
  const keyFile = join(dir, 'node_key');
  writeFileSync(keyFile, '11'.repeat(32) + '\n');
  chmodSync(keyFile, 0o644);
  const { config } = loadConfig({ argv: ['--node-key.file', keyFile], env: {} });
  const loose = await t.throwsAsync(loadNodeKey(config), { instanceOf: NodeKeyError });
  t.is(loose?.code, 'unsafe-permissions');
  chmodSync(keyFile, 0o600);
  writeFileSync(keyFile, 'zz\n');
  t.is((await t.throwsAsync(loadNodeKey(config), { instanceOf: NodeKeyError }))?.code, 'malformed');
  writeFileSync(keyFile, '11'.repeat(32) + '\n');
  const key = await loadNodeKey(config);
  t.is(key.nodeId.length, 33);
  const wrong = loadConfig({ argv: ['--node-key.file', keyFile, '--node-id', '02' + '00'.repeat(32)], env: {} }).config;
  const mismatch = await t.throwsAsync(loadNodeKey(wrong), { instanceOf: NodeKeyError });
  t.is(mismatch?.code, 'node-id-mismatch');
  const fromEnv = loadConfig({ argv: ['--node-key.provider', 'env'], env: {} }).config;
  t.is((await loadNodeKey(fromEnv, { LNCLUSTER_NODE_KEY: '11'.repeat(32) })).nodeId.toString(), key.nodeId.toString());
});
