// Fronts dialing through a SOCKS5 proxy (front.tor-socks), against a SOCKS5 double that plays Tor:
// connects known .onion names to local listeners and answers Tor's failure codes for the others. The
// same path against real Tor is in tor-network.test.ts.
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { TestCluster } from '../helpers/cluster-harness.js';
import { listenPeer } from '../helpers/ln-peer.js';
import { onionAddressFromPublicKey } from '../../src/tor/onion-address.js';
import { createTorDial, socksFailureOutcome } from '../../src/front/tor-dial.js';
import { DialError } from '../../src/front/dialer.js';

function randomOnion(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return onionAddressFromPublicKey(new Uint8Array(der.subarray(der.length - 32)));
}

interface SocksDouble {
  port: number;
  /** Destinations asked for, with whether credentials were offered. */
  requests: Array<{ host: string; port: number; withCredentials: boolean }>;
  close(): Promise<void>;
}

/** SOCKS5 server: `routes` maps a host to a local port (connect) or to a SOCKS reply code (refuse). */
async function socksDouble(routes: Map<string, { connectTo: number } | { reply: number }>): Promise<SocksDouble> {
  const requests: SocksDouble['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'done' = 'greeting';
    let withCredentials = false;
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
          const methods = [...buffer.subarray(2, 2 + buffer[1]!)];
          buffer = buffer.subarray(2 + buffer[1]!);
          withCredentials = methods.includes(0x02);
          socket.write(Buffer.from([0x05, withCredentials ? 0x02 : 0x00]));
          stage = withCredentials ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buffer.length < 3 || buffer.length < 3 + buffer[1]! || buffer.length < 3 + buffer[1]! + buffer[2 + buffer[1]!]!) return;
          buffer = buffer.subarray(3 + buffer[1]! + buffer[2 + buffer[1]!]!);
          socket.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
        } else if (stage === 'request') {
          if (buffer.length < 5 || buffer[3] !== 0x03 || buffer.length < 7 + buffer[4]!) return;
          const host = buffer.toString('latin1', 5, 5 + buffer[4]!);
          const port = buffer.readUInt16BE(5 + buffer[4]!);
          const rest = buffer.subarray(7 + buffer[4]!);
          stage = 'done';
          socket.off('data', onData);
          requests.push({ host, port, withCredentials });
          const route = routes.get(host);
          const reply = (code: number) => Buffer.from([0x05, code, 0x00, 0x01, 127, 0, 0, 1, 0, 0]);
          if (!route || 'reply' in route) {
            socket.end(reply(route && 'reply' in route ? route.reply : 0x04));
            return;
          }
          const upstream = net.connect({ host: '127.0.0.1', port: route.connectTo }, () => {
            socket.write(reply(0x00));
            if (rest.length > 0) upstream.write(rest);
            socket.pipe(upstream).pipe(socket);
          });
          sockets.add(upstream);
          upstream.on('error', () => socket.destroy());
          upstream.on('close', () => socket.destroy());
          return;
        } else {
          return;
        }
      }
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface ConnectView {
  ok: boolean;
  outcome: string;
  message: string;
}

test('SOCKS failures map to connect outcomes with messages that say what is wrong', async (t) => {
  t.is(socksFailureOutcome('HostUnreachable'), 'unreachable');
  t.is(socksFailureOutcome('ConnectionRefused'), 'refused');
  t.is(socksFailureOutcome('Timeout'), 'timeout');
  t.is(socksFailureOutcome('Failure'), 'failure');
  t.is(socksFailureOutcome('ProxyUnreachable'), 'failure');

  const unpublished = randomOnion();
  const unmapped = randomOnion();
  const socks = await socksDouble(new Map([[unpublished, { reply: 0xf0 }], [unmapped, { reply: 0x05 }]]));
  t.teardown(() => socks.close());
  const dial = createTorDial({ socks: `127.0.0.1:${socks.port}`, isolate: true, all: false })!;
  t.true(dial.proxies(unpublished));
  t.false(dial.proxies('127.0.0.1'), '.onion only unless front.tor-all');
  t.true(createTorDial({ socks: `127.0.0.1:${socks.port}`, isolate: false, all: true })!.proxies('127.0.0.1'));
  t.is(createTorDial({ socks: '', isolate: false, all: false }), undefined);

  const notPublished = await t.throwsAsync(dial.proxyDial(unpublished, 9735, 5_000), { instanceOf: DialError });
  t.is(notPublished?.outcome, 'unreachable');
  t.regex(notPublished?.message ?? '', /onion not published.*0xf0/);
  const refused = await t.throwsAsync(dial.proxyDial(unmapped, 9735, 5_000), { instanceOf: DialError });
  t.is(refused?.outcome, 'refused');
  t.regex(refused?.message ?? '', /does not map this port/);
  t.true(socks.requests.every((r) => r.withCredentials), 'front.tor-isolate offers credentials on every connection');

  const closed = net.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as net.AddressInfo).port;
  closed.close();
  const noProxy = await t.throwsAsync(createTorDial({ socks: `127.0.0.1:${deadPort}`, isolate: false, all: false })!.proxyDial(unpublished, 9735, 5_000), {
    instanceOf: DialError,
  });
  t.is(noProxy?.outcome, 'failure');
  t.regex(noProxy?.message ?? '', /SOCKS port is not reachable/);
});

test('a front with front.tor-socks dials <id>@<onion>:9735 through the proxy; an unpublished onion is reported as such', async (t) => {
  const remote = await listenPeer();
  t.teardown(() => remote.close());
  const onion = randomOnion();
  const unpublished = randomOnion();
  const socks = await socksDouble(new Map([[onion, { connectTo: remote.port }]]));
  t.teardown(() => socks.close());
  const cluster = await TestCluster.start({ fronts: 1, logLevel: 'info', frontArgs: () => ['--front.tor-socks', `127.0.0.1:${socks.port}`] });
  t.teardown(() => cluster.stop());

  const result = (await cluster.cli('connect', `${remote.nodeId}@${onion}:9735`)) as ConnectView;
  t.true(result.ok, result.message);
  t.is(result.outcome, 'connected');
  t.deepEqual(socks.requests.map((r) => `${r.host}:${r.port}`), [`${onion}:9735`], 'the front asked the proxy for the onion, by name');
  const accepted = await remote.accepted();
  t.false(accepted.closed);

  const failed = (await cluster.cli('connect', `${remote.nodeId}@${unpublished}:9735`)) as ConnectView;
  t.false(failed.ok);
  t.is(failed.outcome, 'unreachable');
  t.regex(failed.message, /onion not published/);
});

test('a front without front.tor-socks refuses .onion hosts with a message naming the key', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, logLevel: 'info' });
  t.teardown(() => cluster.stop());
  const failed = (await cluster.cli('connect', `02${'11'.repeat(32)}@${randomOnion()}:9735`)) as ConnectView;
  t.false(failed.ok);
  t.is(failed.outcome, 'unreachable');
  t.regex(failed.message, /front\.tor-socks/);
});
