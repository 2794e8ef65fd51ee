import test from 'ava';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TorAuthError, authenticate, safeCookieHashes } from '../../src/tor/auth.js';
import { TorControlConnection, TorControlError, type TorControlEvent } from '../../src/tor/control-connection.js';
import { replyKeyValues } from '../../src/tor/control-reply.js';

type Handler = (line: string, write: (s: string) => void, socket: net.Socket) => void;

/** A control port double: calls `handler` per command line; records every line received. */
async function fakeControlPort(handler: Handler): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      let i;
      while ((i = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 2);
        received.push(line);
        handler(line, (s) => socket.write(s), socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('replies match commands in order; events in between are dispatched, not matched', async (t) => {
  const server = await fakeControlPort((line, write) => {
    if (line === 'GETINFO a') write('650 SIGNAL NEWNYM\r\n250-a=1\r\n250 OK\r\n');
    else if (line === 'GETINFO b') write('250-b=2\r\n250 OK\r\n650-CIRC 5 BUILT\r\n650 more\r\n');
    else write('510 Unrecognized command\r\n');
  });
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.teardown(() => conn.close());
  const events: TorControlEvent[] = [];
  conn.on('event', (e) => events.push(e));
  const [a, b, c] = await Promise.allSettled([conn.command('GETINFO a'), conn.command('GETINFO b'), conn.command('NOPE')]);
  t.is(a.status === 'fulfilled' && replyKeyValues(a.value).get('a')?.[0], '1');
  t.is(b.status === 'fulfilled' && replyKeyValues(b.value).get('b')?.[0], '2');
  t.true(c.status === 'rejected' && c.reason instanceof TorControlError && c.reason.code === 'tor-reply' && c.reason.status === 510);
  t.deepEqual(events.map((e) => e.keyword), ['SIGNAL', 'CIRC']);
  t.is(events[1]!.reply.lines.length, 2);
});

test('a timed out command keeps its queue slot: the next command gets its own reply', async (t) => {
  let first: (() => void) | undefined;
  const server = await fakeControlPort((line, write) => {
    if (line === 'GETINFO slow') first = () => write('250-slow=1\r\n250 OK\r\n');
    if (line === 'GETINFO fast') {
      first!();
      write('250-fast=1\r\n250 OK\r\n');
    }
  });
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.teardown(() => conn.close());
  const slow = await t.throwsAsync(conn.command('GETINFO slow', { timeoutMs: 50 }), { instanceOf: TorControlError });
  t.is(slow!.code, 'timeout');
  const fast = await conn.command('GETINFO fast');
  t.deepEqual([...replyKeyValues(fast).keys()], ['fast']);
});

test('abort, bad command, close and protocol errors are typed', async (t) => {
  const server = await fakeControlPort((line, write, socket) => {
    if (line === 'GARBAGE') write('this is not a reply\r\n');
    if (line === 'HANGUP') socket.destroy();
  });
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  const controller = new AbortController();
  const pending = conn.command('GETINFO never', { signal: controller.signal });
  controller.abort();
  t.is((await t.throwsAsync(pending, { instanceOf: TorControlError }))!.code, 'aborted');
  t.is((await t.throwsAsync(conn.command('GETINFO x\r\nSIGNAL HALT'), { instanceOf: TorControlError }))!.code, 'bad-command');
  const closed = once(conn, 'close');
  t.is((await t.throwsAsync(conn.command('GARBAGE'), { instanceOf: TorControlError }))!.code, 'closed');
  const [reason] = (await closed) as [TorControlError];
  t.is(reason.code, 'protocol');
  t.true(conn.closed);
  t.is((await t.throwsAsync(conn.command('GETINFO x'), { instanceOf: TorControlError }))!.code, 'protocol');

  const conn2 = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  const closed2 = once(conn2, 'close');
  t.is((await t.throwsAsync(conn2.command('HANGUP'), { instanceOf: TorControlError }))!.code, 'closed');
  t.is(((await closed2) as [TorControlError])[0].code, 'closed');
});

test('connect to a closed port is connect-failed', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const err = await t.throwsAsync(TorControlConnection.connect({ host: '127.0.0.1', port }), { instanceOf: TorControlError });
  t.is(err!.code, 'connect-failed');
});

async function cookieDir(t: import('ava').ExecutionContext): Promise<{ file: string; cookie: Uint8Array }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lncluster-cookie-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cookie = new Uint8Array(32).map((_, i) => i + 1);
  const file = path.join(dir, 'control_auth_cookie');
  await writeFile(file, cookie);
  return { file, cookie };
}

/** PROTOCOLINFO offering SAFECOOKIE; `lie` makes the server hash wrong (an impostor without the cookie). */
function safeCookieServer(file: string, cookie: Uint8Array, lie: boolean): Handler {
  const serverNonce = new Uint8Array(32).fill(9);
  return (line, write) => {
    if (line === 'PROTOCOLINFO 1') {
      write(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="${file}"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`);
    } else if (line.startsWith('AUTHCHALLENGE SAFECOOKIE ')) {
      const clientNonce = new Uint8Array(Buffer.from(line.split(' ')[2]!, 'hex'));
      const { serverHash } = safeCookieHashes(lie ? new Uint8Array(32) : cookie, clientNonce, serverNonce);
      write(`250 AUTHCHALLENGE SERVERHASH=${Buffer.from(serverHash).toString('hex').toUpperCase()} SERVERNONCE=${Buffer.from(serverNonce).toString('hex')}\r\n`);
    } else if (line.startsWith('AUTHENTICATE')) {
      write('250 OK\r\n');
    }
  };
}

test('SAFECOOKIE: a wrong server hash fails before we send our hash', async (t) => {
  const { file, cookie } = await cookieDir(t);
  const server = await fakeControlPort(safeCookieServer(file, cookie, true));
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.teardown(() => conn.close());
  const err = await t.throwsAsync(authenticate(conn), { instanceOf: TorAuthError });
  t.is(err!.code, 'server-hash-mismatch');
  t.false(server.received.some((l) => l.startsWith('AUTHENTICATE')));
});

test('SAFECOOKIE: the client hash sent is HMAC(controller-to-server key, cookie|nonces)', async (t) => {
  const { file, cookie } = await cookieDir(t);
  const server = await fakeControlPort(safeCookieServer(file, cookie, false));
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.teardown(() => conn.close());
  const result = await authenticate(conn);
  t.is(result.method, 'SAFECOOKIE');
  t.is(result.protocolInfo.torVersion, '0.4.9.11');
  t.is(result.protocolInfo.cookieFile, file);
  const clientNonce = new Uint8Array(Buffer.from(server.received[1]!.split(' ')[2]!, 'hex'));
  const { clientHash } = safeCookieHashes(cookie, clientNonce, new Uint8Array(32).fill(9));
  t.is(server.received[2], `AUTHENTICATE ${Buffer.from(clientHash).toString('hex')}`);
});

test('NULL authentication, and no usable method without a password', async (t) => {
  let methods = 'NULL';
  const server = await fakeControlPort((line, write) => {
    if (line === 'PROTOCOLINFO 1') write(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=${methods}\r\n250 OK\r\n`);
    else if (line === 'AUTHENTICATE') write('250 OK\r\n');
  });
  t.teardown(() => server.close());
  const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.is((await authenticate(conn)).method, 'NULL');
  conn.close();
  methods = 'HASHEDPASSWORD,FUTURE';
  const conn2 = await TorControlConnection.connect({ host: '127.0.0.1', port: server.port });
  t.teardown(() => conn2.close());
  const err = await t.throwsAsync(authenticate(conn2), { instanceOf: TorAuthError });
  t.is(err!.code, 'no-usable-method');
});
