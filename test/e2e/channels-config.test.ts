// `back.channel-engine = ldk` misconfigured: the back refuses to start with one clear message
// (exit code 2) instead of running without a chain or with two identities.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../helpers/cluster-harness.js';
import { prepareDataDir } from '../../src/cli/demo.js';

async function dataDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lncluster-ldk-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await prepareDataDir(dir);
  return dir;
}

const backArgs = (dir: string, extra: string[]) => [
  'back', '--data-dir', dir, '--network', 'regtest', '--log.level', 'warn',
  '--back.cluster-listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0',
  '--back.channel-engine', 'ldk', ...extra,
];

test('ldk without bitcoind.rpc-url: refused, naming the key', async (t) => {
  const dir = await dataDir(t);
  const result = await runCommand(backArgs(dir, []));
  t.is(result.code, 2);
  t.regex(result.stderr, /bitcoind\.rpc-url/);
  t.false(existsSync(join(dir, 'ldk', 'seed')), 'refused before LDK\'s first start');
  t.true(existsSync(join(dir, 'node_key')), 'the node key untouched');
});

test('ldk with an unreachable bitcoind: refused, naming the URL', async (t) => {
  const dir = await dataDir(t);
  const result = await runCommand(backArgs(dir, ['--bitcoind.rpc-url', 'http://127.0.0.1:9']));
  t.is(result.code, 2);
  t.regex(result.stderr, /cannot use bitcoind at http:\/\/127\.0\.0\.1:9/);
});

test('a node key that is not LDK\'s: refused with both node ids', async (t) => {
  const dir = await dataDir(t);
  // An LDK seed from an earlier run, and the random node key prepareDataDir wrote: two identities.
  mkdirSync(join(dir, 'ldk'), { mode: 0o700 });
  writeFileSync(join(dir, 'ldk', 'seed'), randomBytes(32), { mode: 0o600 });
  const result = await runCommand(backArgs(dir, ['--bitcoind.rpc-url', 'http://127.0.0.1:9']));
  t.is(result.code, 2);
  t.regex(result.stderr, /node id [0-9a-f]{66}, but the LDK channel engine's seed .* is node id [0-9a-f]{66}.*refusing to start/);
});
