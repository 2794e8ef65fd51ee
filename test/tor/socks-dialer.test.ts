/**
 * The SOCKS5 dialer against a SOCKS5 server double (each reply code, hangs, auth) and against a real tor
 * whose only directory authority is unreachable (its SocksPort is open, but no circuit can ever be built).
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { SocksDialer, socksReplyToFailure, type SocksConnectFailure } from '../../src/tor/socks-dialer.js';
import { onionAddressFromPublicKey } from '../../src/tor/onion-address.js';
import { freePort, startTor, torOrExplain } from './tor-process.js';

// Awaited before any test is declared: ava needs all declarations in the first tick after this.
const torBin = await torOrExplain(test, 'socks dialer against tor');

interface SocksRequest {
  host: string;
  port: number;
  credentials?: { user: string; pass: string };
}

/**
 * Speaks the server side of SOCKS5 (RFC 1928/1929). Destination hosts steer it:
 *   "reply-XX.test"  -> reply code 0xXX;  "hang.test" -> never replies;
 *   "hang-once.test" -> hangs the first time, then connects;  anything else -> connects and echoes.
 */
async function socksDouble(): Promise<{ port: number; requests: SocksRequest[]; close(): Promise<void> }> {
  const requests: SocksRequest[] = [];
  const sockets = new Set<net.Socket>();
  let hangOnceSeen = false;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'open' = 'greeting';
    let credentials: SocksRequest['credentials'];
    socket.on('data', (chunk) => {
      if (stage === 'open') return void socket.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
          const methods = [...buf.subarray(2, 2 + buf[1]!)];
          buf = buf.subarray(2 + buf[1]!);
          const method = methods.includes(0x02) ? 0x02 : 0x00;
          socket.write(Buffer.from([0x05, method]));
          stage = method === 0x02 ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buf.length < 2) return;
          const ulen = buf[1]!;
          if (buf.length < 3 + ulen) return;
          const plen = buf[2 + ulen]!;
          if (buf.length < 3 + ulen + plen) return;
          credentials = { user: buf.toString('utf8', 2, 2 + ulen), pass: buf.toString('utf8', 3 + ulen, 3 + ulen + plen) };
          buf = buf.subarray(3 + ulen + plen);
          socket.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
        } else if (stage === 'request') {
          if (buf.length < 5 || buf[3] !== 0x03) return;
          const hlen = buf[4]!;
          if (buf.length < 7 + hlen) return;
          const host = buf.toString('utf8', 5, 5 + hlen);
          const port = buf.readUInt16BE(5 + hlen);
          buf = buf.subarray(7 + hlen);
          requests.push({ host, port, ...(credentials ? { credentials } : {}) });
          const code = /^reply-([0-9a-f]{2})\.test$/.exec(host);
          if (host === 'hang.test') return;
          if (host === 'hang-once.test' && !hangOnceSeen) {
            hangOnceSeen = true;
            return;
          }
          socket.write(Buffer.from([0x05, code ? parseInt(code[1]!, 16) : 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x26, 0x07]));
          if (code) return void socket.end();
          stage = 'open';
          if (buf.length > 0) socket.write(buf);
          return;
        } else return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cases: Array<[number, SocksConnectFailure]> = [
  [0x01, 'Failure'],
  [0x02, 'NotAllowed'],
  [0x03, 'NetworkUnreachable'],
  [0x04, 'HostUnreachable'],
  [0x05, 'ConnectionRefused'],
  [0x06, 'TTLExpired'],
  [0x07, 'Failure'],
  [0x08, 'Failure'],
  [0xf0, 'HostUnreachable'],
  [0xf6, 'InvalidAddress'],
  [0xf7, 'TTLExpired'],
];

test('each SOCKS5 reply code maps to a typed connect result (with and without isolation)', async (t) => {
  const proxy = await socksDouble();
  t.teardown(() => proxy.close());
  for (const isolateStreams of [false, true]) {
    const dialer = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, isolateStreams, connectTimeoutMs: 5_000 });
    for (const [code, failure] of cases) {
      const result = await dialer.dial(`reply-${code.toString(16).padStart(2, '0')}.test`, 9735);
      t.false(result.ok);
      if (result.ok) continue;
      t.is(result.failure, failure, `code 0x${code.toString(16)}`);
      t.is(result.replyCode, code);
      t.is(result.attempts, 1, 'refusals are not retried');
      t.is(socksReplyToFailure(code), failure);
    }
  }
});

test('a successful dial returns a connected socket; isolation uses fresh credentials per connection', async (t) => {
  const proxy = await socksDouble();
  t.teardown(() => proxy.close());
  const dialer = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, isolateStreams: true });
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const result = await dialer.dial('peer.test', 9735);
    if (!result.ok) return t.fail(result.message);
    sockets.push(result.socket);
  }
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const echoed = new Promise<string>((resolve) => sockets[0]!.once('data', (d) => resolve(d.toString())));
  sockets[0]!.write('ping');
  t.is(await echoed, 'ping');
  const [a, b] = proxy.requests;
  t.truthy(a?.credentials?.user);
  t.notDeepEqual(a?.credentials, b?.credentials);
  t.deepEqual({ host: a?.host, port: a?.port }, { host: 'peer.test', port: 9735 });

  const plain = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port } });
  const result = await plain.dial('peer.test', 9735);
  if (result.ok) result.socket.destroy();
  t.true(result.ok);
  t.is(proxy.requests[2]?.credentials, undefined, 'no credentials without isolation');
});

test('after a timeout the dial is retried once with fresh credentials', async (t) => {
  const proxy = await socksDouble();
  t.teardown(() => proxy.close());
  // The retry must finish inside its timeout on a loaded machine: 1 s for a double that answers at once.
  const dialer = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, connectTimeoutMs: 1_000 });
  const recovered = await dialer.dial('hang-once.test', 9735);
  t.log(recovered.ok ? 'recovered' : recovered.message);
  t.true(recovered.ok);
  if (recovered.ok) recovered.socket.destroy();
  t.is(recovered.attempts, 2);
  t.is(proxy.requests[0]?.credentials, undefined);
  t.truthy(proxy.requests[1]?.credentials?.user, 'the retry uses fresh credentials: a new circuit');

  const impatient = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, connectTimeoutMs: 200 });
  const stuck = await impatient.dial('hang.test', 9735);
  t.false(stuck.ok);
  if (!stuck.ok) {
    t.is(stuck.failure, 'Timeout');
    t.is(stuck.attempts, 2);
  }
  const noRetry = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, connectTimeoutMs: 100, retryOnTimeout: false });
  const once = await noRetry.dial('hang.test', 9735);
  t.deepEqual(once.ok ? undefined : [once.failure, once.attempts], ['Timeout', 1]);
});

test('proxy unreachable, invalid addresses and abort are typed results', async (t) => {
  const closedPort = await freePort();
  const dialer = new SocksDialer({ proxy: { host: '127.0.0.1', port: closedPort }, connectTimeoutMs: 2_000 });
  const unreachable = await dialer.dial('peer.test', 9735);
  t.deepEqual(unreachable.ok ? undefined : unreachable.failure, 'ProxyUnreachable');
  const badOnion = await dialer.dial(`${'a'.repeat(56)}.onion`, 9735);
  t.deepEqual(badOnion.ok ? undefined : [badOnion.failure, badOnion.attempts], ['InvalidAddress', 0]);
  const badPort = await dialer.dial('peer.test', 0);
  t.deepEqual(badPort.ok ? undefined : badPort.failure, 'InvalidAddress');
  await t.throwsAsync(dialer.dialOrThrow('peer.test', 9735), { name: 'SocksDialError', message: /cannot reach SOCKS proxy/ });

  const proxy = await socksDouble();
  t.teardown(() => proxy.close());
  const hanging = new SocksDialer({ proxy: { host: '127.0.0.1', port: proxy.port }, connectTimeoutMs: 10_000 });
  const controller = new AbortController();
  const pending = hanging.dial('hang.test', 9735, controller.signal);
  setImmediate(() => controller.abort());
  const aborted = await pending;
  t.deepEqual(aborted.ok ? undefined : aborted.failure, 'Aborted');
});

if (torBin) {
  test('real tor without a reachable network: typed results from Tor itself', async (t) => {
    const tor = await startTor(torBin, { network: 'unreachable' });
    t.teardown(() => tor.stop());
    const proxy = { host: '127.0.0.1', port: tor.socksPort! };
    // Generous: Tor's first SOCKS answer can take a second right after start (it is still loading).
    const patient = new SocksDialer({ proxy, connectTimeoutMs: 20_000, isolateStreams: true });
    // Checksum fine, but 32 bytes of 0x2a is not a curve point: Tor answers its extended code 0xF6 at once.
    const notAPoint = await patient.dial(onionAddressFromPublicKey(new Uint8Array(32).fill(42)), 9735);
    t.deepEqual(notAPoint.ok ? undefined : [notAPoint.failure, notAPoint.replyCode, notAPoint.attempts], ['InvalidAddress', 0xf6, 1]);

    // A real key: Tor waits for a directory it can never reach; the dial times out, retries once, gives up.
    const publicKey = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const dialer = new SocksDialer({ proxy, connectTimeoutMs: 1_000, isolateStreams: true });
    const result = await dialer.dial(onionAddressFromPublicKey(new Uint8Array(publicKey)), 9735);
    t.deepEqual(result.ok ? undefined : [result.failure, result.attempts], ['Timeout', 2]);
  });
}
