import test from 'ava';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { BuiltinBalancer, type BalancerOptionsInput } from '../../src/balancer/builtin.js';
import type { BackendSpec } from '../../src/balancer/backend-set.js';
import { echoOnce, freePort, outcome, startEchoBackend, until, type EchoBackend } from './helpers.js';

/** Every behaviour is checked on both data paths: net.Socket and the native relay. */
const DATA_PATHS = ['node', 'native'] as const;

const generousLimits = { maxConnectionsPerSource: 10_000, newConnectionsPerSecondPerSource: 10_000, newConnectionsBurstPerSource: 10_000 };

async function setup(
  t: { teardown: (fn: () => Promise<void>) => void },
  backendCount: number,
  options: BalancerOptionsInput = {},
): Promise<{ fronts: EchoBackend[]; balancer: BuiltinBalancer; port: number; specs: BackendSpec[] }> {
  const fronts = await Promise.all(Array.from({ length: backendCount }, (_, i) => startEchoBackend(`front${i + 1}`)));
  const specs = fronts.map((f) => ({ id: f.id, host: '127.0.0.1', port: f.port }));
  const balancer = new BuiltinBalancer({ listen: [{ host: '127.0.0.1', port: 0 }], ...options, limits: { ...generousLimits, ...options.limits } }, specs);
  const [bound] = await balancer.start();
  t.teardown(async () => {
    await balancer.close();
    await Promise.all(fronts.map((f) => f.close()));
  });
  return { fronts, balancer, port: bound!.port, specs };
}

/**
 * A front whose process is stopped (SIGSTOP) after its accept queue (backlog 1) was filled: the
 * kernel then drops new SYNs, so a connect to it neither succeeds nor fails until it times out.
 */
async function startStoppedFront(): Promise<{ port: number; close: () => void }> {
  const script = "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>process.send(s.address().port));s.on('connection',()=>{})";
  const proc = fork('-e', [script], { execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const [port] = (await once(proc, 'message')) as [number];
  proc.kill('SIGSTOP');
  // Fill the accept queue: these complete in the kernel and are never accepted.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const f = net.connect({ port, host: '127.0.0.1' });
    f.on('error', () => undefined);
    fillers.push(f);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      proc.kill('SIGKILL');
    },
  };
}

for (const dataPath of DATA_PATHS) {
  test(`${dataPath}: 200 connections spread over 3 fronts within 20% of even; each front sees the PROXY v2 header`, async (t) => {
    const { fronts, port, balancer } = await setup(t, 3, { dataPath });
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => echoOnce(port, `hello ${batch}-${i}`)));
    }
    const counts = fronts.map((f) => f.accepted.length);
    t.is(counts.reduce((a, b) => a + b, 0), 200);
    for (const c of counts) t.true(Math.abs(c - 200 / 3) <= (200 / 3) * 0.2, `uneven spread ${counts.join('/')}`);
    const conn = fronts[0]!.accepted[0]!;
    t.true(conn.viaProxy);
    t.is(conn.remoteAddress, '127.0.0.1');
    t.is(conn.localPort, port);
    const stats = balancer.stats();
    t.is(stats.forwardedTotal, 200);
    t.is(stats.refused.noBackend, 0);
  });

  test(`${dataPath}: with one front holding long-lived connections, new ones go to the others`, async (t) => {
    const { fronts, port, balancer } = await setup(t, 3, { dataPath });
    // 6 long-lived connections spread 2/2/2; then those on two fronts end, leaving one front busy.
    const held: net.Socket[] = [];
    for (let i = 0; i < 6; i++) held.push((await echoOnce(port, 'long', { keepOpen: true })).socket);
    t.deepEqual(fronts.map((f) => f.open.size), [2, 2, 2]);
    const busiest = fronts[0]!;
    for (const f of fronts) if (f !== busiest) for (const s of f.open) s.destroy();
    await until(
      () => balancer.stats().backends.every((b) => b.id === busiest.id || b.activeConnections === 0),
      5_000,
      'others idle',
    );
    const before = fronts.map((f) => f.accepted.length);
    for (let i = 0; i < 10; i++) await echoOnce(port, `short ${i}`);
    const after = fronts.map((f, i) => f.accepted.length - before[i]!);
    t.is(after[fronts.indexOf(busiest)], 0, `the busy front got new connections: ${after.join('/')}`);
    for (const s of held) s.destroy();
  });

  test(`${dataPath}: a killed front costs no client: connects retry on another front`, async (t) => {
    const { fronts, port, balancer } = await setup(t, 3, { dataPath });
    await fronts[1]!.close(); // nothing listens on its port any more: ECONNREFUSED
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => echoOnce(port, `still here ${i}`)));
    t.is(replies.length, 30);
    t.is(fronts[1]!.accepted.length, 0);
    const stats = balancer.stats();
    t.true(stats.connectFailures >= 1);
    t.is(stats.retries, stats.connectFailures);
    t.is(stats.refused.noBackend, 0);
    t.is(stats.backends.find((b) => b.id === 'front2')?.state, 'down');
  });

  test(`${dataPath}: draining: no new connections to the drained front, its existing ones keep working`, async (t) => {
    const { fronts, port, balancer } = await setup(t, 2, { dataPath });
    const existing: net.Socket[] = [];
    for (let i = 0; i < 4; i++) existing.push((await echoOnce(port, 'before', { keepOpen: true })).socket);
    const front1Before = fronts[0]!.accepted.length;
    t.true(front1Before > 0);
    t.true(balancer.drain('front1'));
    for (let i = 0; i < 10; i++) await echoOnce(port, `after ${i}`);
    t.is(fronts[0]!.accepted.length, front1Before);
    // The connections opened before the drain still echo.
    for (const s of existing) {
      s.write('still');
      const [d] = (await once(s, 'data')) as [Buffer];
      t.is(d.toString(), 'still');
      s.destroy();
    }
    t.is(balancer.stats().backends.find((b) => b.id === 'front1')?.state, 'draining');
    balancer.drain('front1', false);
    await Promise.all(Array.from({ length: 6 }, (_, i) => echoOnce(port, `undrained ${i}`)));
    t.true(fronts[0]!.accepted.length > front1Before);
  });

  test(`${dataPath}: source limits refuse the excess from one address and nothing from another`, async (t) => {
    const { port, balancer } = await setup(t, 1, {
      dataPath,
      limits: { maxConnectionsPerSource: 3, newConnectionsPerSecondPerSource: 0.001, newConnectionsBurstPerSource: 4 },
    });
    // Concurrent cap: 3 open from 127.0.0.2, the 4th is closed at once.
    const open: net.Socket[] = [];
    for (let i = 0; i < 3; i++) open.push((await echoOnce(port, 'x', { localAddress: '127.0.0.2', keepOpen: true })).socket);
    const fourth = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    fourth.write('y');
    t.is(await outcome(fourth), 'closed');
    // Another source is not affected.
    t.is((await echoOnce(port, 'other', { localAddress: '127.0.0.3' })).reply, 'other');
    for (const s of open) s.destroy();
    await until(() => balancer.stats().activeConnections === 0, 5_000, 'connections released');
    // Rate: the bucket held 4; 3 are spent (the refused 4th took none), so one more, then refusals.
    t.is((await echoOnce(port, 'five', { localAddress: '127.0.0.2' })).reply, 'five');
    for (let i = 0; i < 2; i++) {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      s.write('z');
      t.is(await outcome(s), 'closed');
    }
    t.is((await echoOnce(port, 'still fine', { localAddress: '127.0.0.3' })).reply, 'still fine');
    const { refused } = balancer.stats();
    t.is(refused.sourceConnections, 1);
    t.is(refused.sourceRate, 2);
    t.is(refused.globalCap, 0);
  });

  test(`${dataPath}: global cap refuses connections beyond it`, async (t) => {
    const { port, balancer } = await setup(t, 1, { dataPath, limits: { maxConnections: 2 } });
    const a = (await echoOnce(port, 'a', { keepOpen: true })).socket;
    const b = (await echoOnce(port, 'b', { keepOpen: true, localAddress: '127.0.0.2' })).socket;
    const c = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
    c.write('c');
    t.is(await outcome(c), 'closed');
    t.is(balancer.stats().refused.globalCap, 1);
    a.destroy();
    b.destroy();
  });

  test(`${dataPath}: a client that never sends a byte is closed after the idle timeout; one that does is not`, async (t) => {
    const { port, balancer } = await setup(t, 1, { dataPath, idleTimeoutMs: 1_000 });
    const silent = net.connect({ port, host: '127.0.0.1' });
    const silentOutcome = outcome(silent, 5_000);
    const talker = (await echoOnce(port, 'hi', { keepOpen: true })).socket;
    t.is(await silentOutcome, 'closed');
    t.is(balancer.stats().idleTimeouts, 1);
    await new Promise((r) => setTimeout(r, 1_100));
    t.false(talker.destroyed);
    talker.write('again');
    const [d] = (await once(talker, 'data')) as [Buffer];
    t.is(d.toString(), 'again');
    talker.destroy();
  });

  test(`${dataPath}: half-close: the client ends its side and still reads the whole reply`, async (t) => {
    // A front that reads until EOF, then answers with the byte count and closes.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      let header = true;
      let n = 0;
      socket.on('data', (d: Buffer) => {
        if (header) {
          header = false;
          n += d.length - (16 + 12); // the balancer's TCP4 header
        } else n += d.length;
      });
      socket.on('end', () => {
        setTimeout(() => socket.end(`got ${n}`), 50);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const balancer = new BuiltinBalancer({ listen: [{ host: '127.0.0.1', port: 0 }], dataPath }, [
      { id: 'f', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    ]);
    const [bound] = await balancer.start();
    t.teardown(async () => {
      await balancer.close();
      server.close();
    });
    const client = net.connect({ port: bound!.port, host: '127.0.0.1', allowHalfOpen: true });
    await once(client, 'connect');
    const payload = Buffer.alloc(1 << 20, 7);
    client.end(payload);
    let reply = '';
    client.on('data', (d: Buffer) => (reply += d.toString()));
    await once(client, 'end');
    t.is(reply, `got ${payload.length}`);
  });

  test(`${dataPath}: IPv6: listens on ::1 and sends a tcp6 header`, async (t) => {
    const { fronts, balancer } = await setup(t, 1, { dataPath });
    await balancer.reload({ listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }] });
    const v6 = balancer.addresses().find((a) => a.family === 'IPv6');
    t.truthy(v6);
    t.is((await echoOnce(v6!.port, 'six', { host: '::1' })).reply, 'six');
    const conn = fronts[0]!.accepted.at(-1)!;
    t.is(conn.remoteAddress, '::1');
    t.is(conn.header?.address?.family, 'tcp6');
  });

  test(`${dataPath}: reload changes the listener without dropping open connections; membership updates keep counters`, async (t) => {
    const { port, balancer, specs, fronts } = await setup(t, 2, { dataPath });
    const open = (await echoOnce(port, 'a', { keepOpen: true })).socket;
    const [moved] = await balancer.reload({ listen: [{ host: '127.0.0.1', port: await freePort() }], origin: 'clearnet' });
    t.not(moved!.port, port);
    open.write('still');
    t.is(((await once(open, 'data')) as [Buffer])[0].toString(), 'still');
    t.is((await echoOnce(moved!.port, 'new')).reply, 'new');
    t.is(fronts.flatMap((f) => f.accepted).at(-1)?.origin, 'clearnet');
    const activeBefore = balancer.stats().backends.reduce((a, b) => a + b.activeConnections, 0);
    balancer.updateBackends([...specs]);
    t.is(balancer.stats().backends.reduce((a, b) => a + b.activeConnections, 0), activeBefore);
    balancer.updateBackends([specs[1]!]);
    t.deepEqual(balancer.stats().backends.map((b) => b.id), ['front2']);
    open.destroy();
  });

  test(`${dataPath}: 16 MiB echoed through a client that stops reading for a while arrive intact (backpressure both ways)`, async (t) => {
    const { port, balancer } = await setup(t, 1, { dataPath });
    const payload = randomBytes(16 * 1024 * 1024);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => undefined);
    await once(client, 'connect');
    const received: Buffer[] = [];
    let length = 0;
    client.on('data', (d: Buffer) => {
      received.push(d);
      length += d.length;
      // Stop reading once, mid-stream: the front's echo, then the client's upload, must wait.
      if (length > 4 * 1024 * 1024 && received.length > 0 && !paused.done) {
        paused.done = true;
        client.pause();
        setTimeout(() => client.resume(), 500);
      }
    });
    const paused = { done: false };
    const ended = once(client, 'end');
    client.end(payload);
    await ended;
    t.true(paused.done);
    t.is(length, payload.length);
    t.true(Buffer.concat(received).equals(payload), 'echoed bytes differ');
    client.destroy();
    await until(() => balancer.stats().activeConnections === 0, 5_000, 'connection released');
    t.true(balancer.stats().bytesFromClients >= payload.length);
  });

  test(`${dataPath}: 1,100 connections open at once all forward, and all are released when they close`, async (t) => {
    const { port, balancer, fronts } = await setup(t, 2, { dataPath });
    const sockets: net.Socket[] = [];
    for (let batch = 0; batch < 11; batch++) {
      const opened = await Promise.all(Array.from({ length: 100 }, (_, i) => echoOnce(port, `c${batch}-${i}`, { keepOpen: true })));
      sockets.push(...opened.map((o) => o.socket));
    }
    t.is(sockets.length, 1_100);
    t.is(balancer.stats().activeConnections, 1_100);
    t.is(fronts[0]!.open.size + fronts[1]!.open.size, 1_100);
    // The first connection still works after a thousand more arrived.
    sockets[0]!.write('again');
    t.is(((await once(sockets[0]!, 'data')) as [Buffer])[0].toString(), 'again');
    for (const s of sockets) s.destroy();
    await until(() => balancer.stats().activeConnections === 0, 10_000, 'all released');
    await until(() => fronts[0]!.open.size + fronts[1]!.open.size === 0, 10_000, 'fronts see every close');
    t.true(balancer.stats().backends.every((b) => b.activeConnections === 0));
  });

  test(`${dataPath}: a front that completes no handshake (stopped, its accept queue full) times out; the client is served by another`, async (t) => {
    const stuck = await startStoppedFront();
    t.teardown(() => stuck.close());
    const { port, balancer, fronts } = await setup(t, 1, { dataPath, connectTimeoutMs: 400 });
    balancer.updateBackends([{ id: 'stuck', host: '127.0.0.1', port: stuck.port }, { id: fronts[0]!.id, host: '127.0.0.1', port: fronts[0]!.port }]);
    // Least connections with ties rotating: within two clients one is sent to the stuck front first.
    for (let i = 0; i < 2; i++) t.is((await echoOnce(port, `t${i}`)).reply, `t${i}`);
    const stats = balancer.stats();
    t.true(stats.connectFailures >= 1, `no connect failure counted: ${JSON.stringify(stats)}`);
    t.is(stats.refused.noBackend, 0);
    t.is(stats.backends.find((b) => b.id === 'stuck')?.state, 'down');
  });

  // Serial: it counts the process's descriptors, which concurrent tests would move.
  test.serial(`${dataPath}: 400 clients behaving badly (reset mid-stream, leaving before the front answers, half-closing, idle) leave no connection and no descriptor behind`, async (t) => {
    const { port, balancer } = await setup(t, 2, { dataPath, idleTimeoutMs: 300 });
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const before = openFds();
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const client = (kind: number): Promise<void> =>
      new Promise((resolve) => {
        const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        socket.on('end', () => socket.end()); // the balancer's FIN (idle timeout, the echo's end): close too
        socket.on('connect', () => {
          if (kind === 0) socket.destroy(); // gone before the front is even connected
          else if (kind === 1) {
            socket.write(randomBytes(100_000)); // then reset while data flows both ways
            setTimeout(() => socket.resetAndDestroy(), 5);
          } else if (kind === 2) {
            socket.end('half'); // half-close, then read the echo to the end
            socket.resume();
          } else if (kind === 3) {
            socket.resume(); // says nothing: the idle timeout closes it
          } else {
            socket.write(randomBytes(1 + Math.floor(random() * 5_000)));
            socket.pause(); // never reads its echo, then leaves
            setTimeout(() => socket.destroy(), 20);
          }
        });
      });
    const kinds = Array.from({ length: 400 }, () => Math.floor(random() * 5));
    for (let i = 0; i < kinds.length; i += 50) await Promise.all(kinds.slice(i, i + 50).map(client));
    await until(() => balancer.stats().activeConnections === 0, 10_000, 'every connection released');
    await until(() => openFds() <= before, 10_000, `descriptors back to ${before} (now ${openFds()})`);
    const stats = balancer.stats();
    t.is(stats.acceptedTotal, 400);
    t.true(stats.idleTimeouts >= 1);
    t.true(stats.backends.every((b) => b.activeConnections === 0));
    // Still serving.
    t.is((await echoOnce(port, 'after')).reply, 'after');
  });

  test(`${dataPath}: two workers share the port and forward with the header`, async (t) => {
    const { fronts, balancer, port } = await setup(t, 2, { dataPath, workers: 2 });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => echoOnce(port, `w${i}`)));
    t.is(replies.length, 20);
    t.is(fronts[0]!.accepted.length + fronts[1]!.accepted.length, 20);
    balancer.drain('front1');
    // The drain reaches the workers over IPC: give it a round trip via a stats request.
    await balancer.refreshStats();
    const before = fronts[0]!.accepted.length;
    await Promise.all(Array.from({ length: 10 }, (_, i) => echoOnce(port, `d${i}`)));
    t.is(fronts[0]!.accepted.length, before);
    const stats = await balancer.refreshStats();
    t.is(stats.forwardedTotal, 30);
  });
}

// Only the native path binds with SO_REUSEPORT; node:cluster workers share the primary's socket (and
// two pools in one test process would share it with each other, as one primary).
test('native: two workers refuse a port another balancer already serves, even one whose workers share it with SO_REUSEPORT', async (t) => {
  const port = await freePort();
  const first = new BuiltinBalancer({ listen: [{ host: '127.0.0.1', port }], workers: 2, dataPath: 'native' }, []);
  await first.start();
  t.teardown(() => first.close());
  const second = new BuiltinBalancer({ listen: [{ host: '127.0.0.1', port }], workers: 2, dataPath: 'native' }, []);
  const error = await t.throwsAsync(second.start());
  t.regex(error?.message ?? '', /EADDRINUSE|address already in use/i);
  await second.close();
});
