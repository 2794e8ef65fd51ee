import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ClusterLinkClosed } from '../../src/cluster/index.js';
import { nextFront, sharedCredentials, startServer, withTimeout } from './helpers.js';

// A front in its own OS process, so the back faces what really happens to a front: SIGKILL (the kernel
// closes the socket) and SIGSTOP (a hung process: the connection stays open and goes silent).
const clusterModule = new URL('../../src/cluster/index.js', import.meta.url).href;
const frontScript = `
const { ClusterClient } = await import(process.env.CLUSTER_MODULE);
const client = new ClusterClient({
  host: '127.0.0.1',
  port: Number(process.env.BACK_PORT),
  credentials: JSON.parse(process.env.CLUSTER_CREDENTIALS),
  hello: { frontId: 'child-front', listenAddresses: [], capacity: 10, holdsNodeKey: false },
});
client.on('up', () => process.stdout.write('up\\n'));
client.start();
`;

async function startFront(t: ExecutionContext, port: number): Promise<ChildProcess> {
  const credentials = await sharedCredentials();
  const child = spawn(process.execPath, ['--input-type=module', '-e', frontScript], {
    env: { ...process.env, CLUSTER_MODULE: clusterModule, BACK_PORT: String(port), CLUSTER_CREDENTIALS: JSON.stringify(credentials) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
  test(`a front process hit by ${signal} is noticed by the back within 3 s (default heartbeat settings)`, async (t) => {
    const credentials = await sharedCredentials();
    const { server, port } = await startServer(credentials);
    t.teardown(() => server.close());
    const front = nextFront(server);
    const child = await startFront(t, port);
    const { link, hello } = await withTimeout(front, 20_000, 'child front');
    t.is(hello.frontId, 'child-front');
    t.false(hello.holdsNodeKey);
    const closed = once(link, 'close').then(([info]) => info as ClusterLinkClosed);
    const start = Date.now();
    child.kill(signal);
    const info = await withTimeout(closed, 10_000, 'the back noticing');
    const elapsed = Date.now() - start;
    t.log(`${signal}: link closed with '${info.reason}' after ${elapsed} ms`);
    if (signal === 'SIGSTOP') t.is(info.reason, 'heartbeat-timeout');
    // Silence is counted from the last heartbeat received, so the back notices at most deadAfterMs (3 s) after the
    // front stopped; the slack is for timer delays on a loaded machine.
    t.true(elapsed <= 3000 + 1500, `noticed after ${elapsed} ms`);
    t.false(server.frontLinks.has('child-front'));
    if (signal === 'SIGSTOP') child.kill('SIGKILL');
  });
}
