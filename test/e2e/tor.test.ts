// `lncluster tor` against a real tor started by the test with DisableNetwork 1 (ready in about a second):
// the onion address reaches `cli getinfo`, survives a restart of the controller (persisted key) and of
// Tor itself, and the demo's --tor-control starts it all (password authentication there).
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MAIN, runCommand, TestCluster, type RoleProcess } from '../helpers/cluster-harness.js';
import { freePort, hashPassword, startTor, torOrExplain } from '../tor/tor-process.js';
import { onionAddressFromKey } from '../../src/tor/onion-address.js';

const torBin = await torOrExplain(test, 'lncluster tor against tor');

interface Info {
  nodeId: string;
  onionAddress?: string;
}

async function stopRole(role: RoleProcess): Promise<void> {
  if (role.child.exitCode !== null || role.child.signalCode !== null) return;
  role.child.kill('SIGTERM');
  await role.exited;
}

async function health(role: RoleProcess): Promise<{ state: string; publications: number; onionAddress?: string }> {
  const response = await fetch(String(role.ready['health']));
  return (await response.json()) as { state: string; publications: number; onionAddress?: string };
}

if (torBin) {
  test.serial('lncluster tor publishes the onion service, reports it to the back, keeps the address across restarts of itself and of Tor', async (t) => {
    const controlPort = await freePort();
    const torDir = mkdtempSync(join(tmpdir(), 'lncluster-e2e-tor-'));
    t.teardown(() => rmSync(torDir, { recursive: true, force: true }));
    let tor = await startTor(torBin, { dataDir: torDir, controlPort });
    t.teardown(() => tor.kill());
    const cluster = await TestCluster.start({ fronts: 2, logLevel: 'info' });
    t.teardown(() => cluster.stop());
    const targets = cluster.fronts.map((f) => String(f.ready['listen'])).join(',');
    const torArgs = ['tor', ...cluster.common(), '--tor.control', `127.0.0.1:${controlPort}`, '--tor.targets', targets, '--ops.listen', '127.0.0.1:0'];

    let role = await cluster.spawn(torArgs);
    const onionAddress = String(role.ready['onionAddress']);
    t.regex(onionAddress, /^[a-z2-7]{56}\.onion$/);
    t.true(role.ready['reportedToBack'], 'the first report reached the back before the ready line');
    const keyFile = join(cluster.dataDir, 'onion.key');
    t.is(statSync(keyFile).mode & 0o777, 0o600, 'the onion key is kept with mode 0600');
    t.is(onionAddressFromKey(readFileSync(keyFile, 'utf8').trim()), onionAddress, 'the address is the one the key derives');
    t.is(((await cluster.cli('getinfo')) as Info).onionAddress, onionAddress);
    t.like(await health(role), { state: 'published', publications: 1, onionAddress });

    // A clean stop withdraws the address (without Detach the service goes down with the controller)...
    await stopRole(role);
    t.is(((await cluster.cli('getinfo')) as Info).onionAddress, undefined, 'withdrawn on a clean stop');
    // ...and a new controller publishes the same address from the persisted key.
    role = await cluster.spawn(torArgs);
    t.is(role.ready['onionAddress'], onionAddress, 'same address after restarting lncluster tor');
    t.is(((await cluster.cli('getinfo')) as Info).onionAddress, onionAddress);

    // Tor dies and comes back on the same port: the controller reconnects and publishes again.
    await tor.kill();
    tor = await startTor(torBin, { dataDir: torDir, controlPort });
    const republished = await cluster.waitFor(
      'publication after the Tor restart',
      async () => {
        const h = await health(role);
        return h.publications >= 2 && h.state === 'published' ? h : undefined;
      },
      30_000,
      200,
    );
    t.is(republished.onionAddress, onionAddress);
    t.is(((await cluster.cli('getinfo')) as Info).onionAddress, onionAddress, 'the address stayed in getinfo through the Tor restart');
    const metrics = await (await fetch(String(role.ready['metrics']))).text();
    t.regex(metrics, /lncluster_tor_controller_state\{state="published"\} 1/);
    t.regex(metrics, /lncluster_tor_publications_total 2/);
  });

  test.serial('lncluster tor without a target or control port says which key is missing', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lncluster-e2e-tor-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const noControl = await runCommand(['tor', '--data-dir', dataDir, '--tor.targets', '127.0.0.1:9735']);
    t.is(noControl.code, 2);
    t.regex(noControl.stderr, /tor\.control/);
    const noTarget = await runCommand(['tor', '--data-dir', dataDir, '--tor.control', '127.0.0.1:9051']);
    t.is(noTarget.code, 2);
    t.regex(noTarget.stderr, /balancer\.tor-listen.*tor\.targets/);
  });

  test.serial('lncluster demo --tor-control (password authentication): cli getinfo shows the onion address', async (t) => {
    const password = 'demo tor password';
    const tor = await startTor(torBin, { cookie: false, hashedPassword: await hashPassword(torBin, password) });
    t.teardown(() => tor.stop());
    const dataDir = mkdtempSync(join(tmpdir(), 'lncluster-e2e-demo-tor-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const passwordFile = join(dataDir, 'tor.password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });

    const demo = spawn(
      process.execPath,
      [MAIN, 'demo', '--port', '0', '--fronts', '1', '--json', '--data-dir', dataDir, '--tor-control', `127.0.0.1:${tor.controlPort}`, '--tor-password-file', passwordFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
    t.teardown(async () => {
      if (demo.exitCode === null && demo.signalCode === null) {
        process.kill(demo.pid!, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (demo.exitCode === null && demo.signalCode === null) process.kill(demo.pid!, 'SIGKILL');
      }
    });
    let stderr = '';
    demo.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const summary = await new Promise<{ nodeId: string; onionAddress?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo not ready in 60 s:\n${stderr}`)), 60_000);
      createInterface({ input: demo.stdout! }).on('line', (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { nodeId: string; onionAddress?: string });
      });
      void exited.then(() => reject(new Error(`demo exited:\n${stderr}`)));
    });
    t.regex(summary.onionAddress ?? '', /^[a-z2-7]{56}\.onion$/);
    const info = await runCommand(['cli', '--data-dir', dataDir, 'getinfo']);
    t.is(info.code, 0, info.stderr);
    t.is((JSON.parse(info.stdout) as Info).onionAddress, summary.onionAddress);
  });
}
