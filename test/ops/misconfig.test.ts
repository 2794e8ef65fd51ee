// Misconfiguration, the way an operator meets it: real `lncluster` processes, one class of mistake
// each, and for each the precise message on stderr and a non-zero exit (2: fix the configuration;
// a supervisor should not restart). Secrets never appear in any output.
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDataDir } from '../../src/cli/demo.js';
import { MAIN, TestCluster, startRole } from '../helpers/cluster-harness.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the developer's or CI's LNCLUSTER_* / legacy variables leaks in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...extra };
  if (process.env['LNCLUSTER_CRYPTO']) env['LNCLUSTER_CRYPTO'] = process.env['LNCLUSTER_CRYPTO'];
  return env;
}

/** Runs lncluster to its exit; a process still running after the deadline is killed and reported. */
function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 90_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[test: still running after ${timeoutMs} ms, killed]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let root: string;
let ready: string;
const backArgs = (dataDir: string) => ['back', '--data-dir', dataDir, '--network', 'regtest', '--back.cluster-listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0'];

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'lncluster-misconfig-'));
  ready = join(root, 'ready');
  await prepareDataDir(ready);
});
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** A fresh copy of the prepared data dir, to break one thing in. */
function copyOfDataDir(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  for (const file of ['node_key', 'cluster.crt', 'cluster.key', 'cluster.password', 'admin.password']) {
    copyFileSync(join(ready, file), join(dir, file));
    chmodSync(join(dir, file), 0o600);
  }
  return dir;
}

/** Exit 2, one `lncluster: ...` line matching `pattern`, no stack trace, no ready line. */
function assertRefused(t: import('ava').ExecutionContext, outcome: Outcome, pattern: RegExp): void {
  t.is(outcome.code, 2, `exit code 2; stderr was:\n${outcome.stderr}`);
  t.regex(outcome.stderr, pattern);
  t.regex(outcome.stderr, /^lncluster: /m, 'the message is the lncluster: line');
  t.notRegex(outcome.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  t.notRegex(outcome.stdout, /"event":"ready"/, 'never announced ready');
}

test.serial('missing node key file: names the file and how to create it', async (t) => {
  const dir = copyOfDataDir('missing-key');
  rmSync(join(dir, 'node_key'));
  const outcome = await run(backArgs(dir));
  assertRefused(t, outcome, new RegExp(`node key file ${join(dir, 'node_key')} does not exist \\(create one with \`lncluster keygen --node-key --data-dir ${dir}\``));
});

test.serial('node key file readable by others: refused with the chmod to run', async (t) => {
  const dir = copyOfDataDir('loose-key');
  chmodSync(join(dir, 'node_key'), 0o644);
  assertRefused(t, await run(backArgs(dir)), /node key file .*node_key is readable by group or others \(mode 644\); run chmod 600/);
});

test.serial('node key from an unset environment variable', async (t) => {
  const dir = copyOfDataDir('env-key');
  assertRefused(t, await run([...backArgs(dir), '--node-key.provider', 'env']), /environment variable LNCLUSTER_NODE_KEY \(node-key\.env\) is not set/);
});

test.serial('wrong node id: a back whose NODE_PUB_KEY is not its key refuses to start', async (t) => {
  const dir = copyOfDataDir('wrong-id');
  const wrong = '02' + '11'.repeat(32);
  const outcome = await run(backArgs(dir), cleanEnv({ NODE_PUB_KEY: wrong }));
  assertRefused(t, outcome, new RegExp(`the node key has node id 0[23][0-9a-f]{64} but node-id \\(NODE_PUB_KEY\\) is ${wrong}`));
  // A malformed one is a configuration error naming its source.
  assertRefused(t, await run(backArgs(dir), cleanEnv({ NODE_PUB_KEY: 'not-a-key' })), /node-id = "not-a-key" \(from env NODE_PUB_KEY\): expected 66 hex characters/);
});

test.serial('bad addresses: the key, the value, the expected form and where it came from', async (t) => {
  const dir = copyOfDataDir('bad-address');
  assertRefused(
    t,
    await run(['front', '--data-dir', dir, '--front.listen', 'nowhere']),
    /front\.listen = "nowhere" \(from flag --front\.listen\): expected host:port \(IPv6 in brackets\)/,
  );
  assertRefused(
    t,
    await run(backArgs(dir).slice(0, 3), cleanEnv({ LNCLUSTER_BACK_CLUSTER_LISTEN: '127.0.0.1:99999' })),
    /back\.cluster-listen = "127\.0\.0\.1:99999" \(from env LNCLUSTER_BACK_CLUSTER_LISTEN\): expected .*a port in 0\.\.65535/,
  );
  const config = join(root, 'bad.conf');
  writeFileSync(config, 'front.back = 10.0.0.1\nfront.max-peerz = 3\n');
  const fromFile = await run(['front', '--data-dir', dir, '--config', config]);
  assertRefused(t, fromFile, new RegExp(`front\\.back = "10\\.0\\.0\\.1" \\(from file ${config}\\): expected host:port`));
  t.regex(fromFile.stderr, /front\.max-peerz = "3" \(from file .*\): expected a known key \(did you mean front\.max-peers\?\)/, 'unknown keys reported with a suggestion');
});

test.serial('an address already in use: "cannot listen", exit 2', async (t) => {
  const dir = copyOfDataDir('in-use');
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  assertRefused(t, await run([...backArgs(dir), '--back.cluster-listen', `127.0.0.1:${port}`]), new RegExp(`cannot listen: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
});

test.serial('unreadable or missing cluster certificate', async (t) => {
  const dir = copyOfDataDir('bad-cert');
  writeFileSync(join(dir, 'cluster.crt'), 'this is not a certificate\n', { mode: 0o600 });
  assertRefused(t, await run(backArgs(dir)), new RegExp(`${join(dir, 'cluster.crt')} is not a PEM certificate`));
  rmSync(join(dir, 'cluster.crt'));
  assertRefused(t, await run(backArgs(dir)), new RegExp(`${join(dir, 'cluster.crt')} does not exist`));
  writeFileSync(join(dir, 'garbage.key'), 'not a key\n', { mode: 0o600 });
  copyFileSync(join(ready, 'cluster.crt'), join(dir, 'cluster.crt'));
  assertRefused(t, await run([...backArgs(dir), '--cluster.key', join(dir, 'garbage.key')]), /garbage\.key is not an encrypted PKCS#8 PEM key/);
});

test.serial('wrong cluster password (CLUSTER_TLS_PASSWORD or file): refused, and the password is never printed', async (t) => {
  const dir = copyOfDataDir('wrong-password');
  const secret = 'Wrong-Cluster-Password-4242';
  for (const role of ['back', 'front'] as const) {
    const args = role === 'back' ? backArgs(dir) : ['front', '--data-dir', dir, '--network', 'regtest', '--front.back', '127.0.0.1:1', '--ops.listen', '127.0.0.1:0', '--front.listen', '127.0.0.1:0'];
    const outcome = await run([...args, '--log.level', 'trace'], cleanEnv({ CLUSTER_TLS_PASSWORD: secret }));
    assertRefused(t, outcome, new RegExp(`wrong password for ${join(dir, 'cluster.key')}`));
    t.false((outcome.stdout + outcome.stderr).includes(secret), `${role}: the password appears nowhere in the output`);
  }
  writeFileSync(join(dir, 'cluster.password'), secret + '\n', { mode: 0o600 });
  const fromFile = await run(backArgs(dir));
  assertRefused(t, fromFile, /wrong password for /);
  t.false((fromFile.stdout + fromFile.stderr).includes(secret));
  // A password that is also an invalid value elsewhere is still redacted in the configuration error.
  const invalid = await run([...backArgs(dir), '--front.listen', 'x'], cleanEnv({ CLUSTER_TLS_PASSWORD: secret }));
  t.is(invalid.code, 2);
  t.false((invalid.stdout + invalid.stderr).includes(secret));
  // No password at all.
  rmSync(join(dir, 'cluster.password'));
  assertRefused(t, await run(backArgs(dir)), /no cluster key password: set CLUSTER_TLS_PASSWORD or cluster\.password-file/);
});

test.serial('missing admin password file on the back', async (t) => {
  const dir = copyOfDataDir('no-admin');
  rmSync(join(dir, 'admin.password'));
  assertRefused(t, await run(backArgs(dir)), /cannot read the admin password file .*admin\.password \(back\.admin-password-file\)/);
});

test.serial('keygen then back: the back starts on what keygen wrote, with the node key it made', async (t) => {
  const dir = join(root, 'keygen');
  const keygen = await run(['keygen', '--data-dir', dir, '--node-key', '--json']);
  t.is(keygen.code, 0, keygen.stderr);
  const made = JSON.parse(keygen.stdout) as { nodeId: string; passwordFile: string };
  t.false(keygen.stdout.includes(readFileSync(made.passwordFile, 'utf8').trim()), 'keygen does not print the generated password');
  const back = await startRole(backArgs(dir), cleanEnv());
  t.teardown(() => back.child.kill('SIGKILL'));
  t.is(back.ready['nodeId'], made.nodeId);
});

test.serial('a front whose NODE_PUB_KEY is not the back\'s node id refuses to serve and exits non-zero', async (t) => {
  const cluster = await TestCluster.start({ fronts: 0, logLevel: 'info' });
  t.teardown(() => cluster.stop());
  const wrong = '03' + '22'.repeat(32);
  const frontArgs = ['front', ...cluster.common(), '--front.id', 'front-x', '--front.back', cluster.clusterAddress, '--front.listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0'];
  const delegated = await run(frontArgs, cleanEnv({ NODE_PUB_KEY: wrong }));
  t.not(delegated.code, 0, `exit code ${delegated.code}`);
  t.not(delegated.code, null);
  t.regex(delegated.stderr, new RegExp(`the back serves node ${cluster.nodeId}, but node-id \\(NODE_PUB_KEY\\) is ${wrong}`));

  // A front holding a node key of another node refuses the back too.
  const otherKey = join(root, 'other_node_key');
  writeFileSync(otherKey, '33'.repeat(32) + '\n', { mode: 0o600 });
  const local = await run([...frontArgs, '--front.node-key', 'local', '--node-key.file', otherKey]);
  t.not(local.code, 0);
  t.regex(local.stderr, /the back serves node [0-9a-f]{66}, but this front's node key is [0-9a-f]{66}/);
  // And the back never kept it.
  t.deepEqual(await cluster.api('fronts'), []);
});

// A refusing front fails start() with a NodeKeyError: no ready line, exit 2, one `lncluster:` line.
test.serial('a refusing front never announces itself ready, and exits 2 with one lncluster: line', async (t) => {
  const cluster = await TestCluster.start({ fronts: 0, logLevel: 'info' });
  t.teardown(() => cluster.stop());
  const outcome = await run(
    ['front', ...cluster.common(), '--front.id', 'front-y', '--front.back', cluster.clusterAddress, '--front.listen', '127.0.0.1:0', '--ops.listen', '127.0.0.1:0'],
    cleanEnv({ NODE_PUB_KEY: '02' + '44'.repeat(32) }),
  );
  assertRefused(t, outcome, /NODE_PUB_KEY/);
});
