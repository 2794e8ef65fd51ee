/**
 * The control client against a real tor (DisableNetwork 1: ready in under a second, no traffic).
 * One tor serves the file: cookie and hashed password both enabled, so every method is offered.
 */
import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { authenticate, readProtocolInfo } from '../../src/tor/auth.js';
import { TorControlConnection, TorControlError, type TorControlEvent } from '../../src/tor/control-connection.js';
import { replyKeyValues } from '../../src/tor/control-reply.js';
import { onionAddressFromKey } from '../../src/tor/onion-address.js';
import { addOnion, delOnion, publishOnionService, readOnionKeyFile } from '../../src/tor/onion-service.js';
import { hashPassword, startTor, torOrExplain, type TorInstance } from './tor-process.js';

const PASSWORD = 'correct "horse" \\ battery';
const torBin = await torOrExplain(test, 'tor control');

if (torBin) {
  let tor: TorInstance;
  let scratch: string;

  test.before(async () => {
    tor = await startTor(torBin, { hashedPassword: await hashPassword(torBin, PASSWORD), controlSocket: true });
    scratch = await mkdtemp(path.join(os.tmpdir(), 'lncluster-tor-test-'));
  });
  test.after.always(async () => {
    await tor?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const connect = async (t: import('ava').ExecutionContext): Promise<TorControlConnection> => {
    const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: tor.controlPort });
    t.teardown(() => conn.close());
    return conn;
  };
  const ports = [{ virtualPort: 9735, target: '127.0.0.1:9736' }];

  test('PROTOCOLINFO lists the methods, cookie file and version', async (t) => {
    const conn = await connect(t);
    const info = await readProtocolInfo(conn);
    t.is(info.protocolVersion, 1);
    t.deepEqual([...info.methods].sort(), ['COOKIE', 'HASHEDPASSWORD', 'SAFECOOKIE']);
    t.is(info.cookieFile, tor.cookieFile);
    t.regex(info.torVersion ?? '', /^\d+\.\d+\.\d+/);
  });

  for (const method of ['SAFECOOKIE', 'COOKIE', 'HASHEDPASSWORD'] as const) {
    test(`authenticates with ${method}`, async (t) => {
      const conn = await connect(t);
      const passwordFile = path.join(scratch, `pw-${method}`);
      await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const result = await authenticate(conn, { method, passwordFile });
      t.is(result.method, method);
      const reply = await conn.command('GETINFO version');
      t.regex(replyKeyValues(reply).get('version')?.[0] ?? '', /^\d+\.\d+/);
    });
  }

  test('connects over the unix control socket too', async (t) => {
    const conn = await TorControlConnection.connect({ path: tor.controlSocketPath! });
    t.teardown(() => conn.close());
    t.is((await authenticate(conn)).method, 'SAFECOOKIE');
    const closed = new Promise((resolve) => conn.once('close', resolve));
    await conn.quit();
    t.is(await closed, undefined, 'a close we asked for carries no error');
  });

  test('SAFECOOKIE is chosen when nothing is forced', async (t) => {
    const conn = await connect(t);
    t.is((await authenticate(conn, { password: PASSWORD })).method, 'SAFECOOKIE');
  });

  test('a wrong password is a 515 TorControlError and Tor closes the connection', async (t) => {
    const conn = await connect(t);
    const closed = new Promise((resolve) => conn.once('close', resolve));
    const err = await t.throwsAsync(authenticate(conn, { method: 'HASHEDPASSWORD', password: 'wrong' }), { instanceOf: TorControlError });
    t.is(err!.code, 'tor-reply');
    t.is(err!.status, 515);
    t.regex(err!.replyText ?? '', /^Authentication failed/);
    await closed;
    t.true(conn.closed);
  });

  test('multi-line data replies and async events on a live Tor', async (t) => {
    const conn = await connect(t);
    await authenticate(conn);
    const config = replyKeyValues(await conn.command('GETINFO config-text')).get('config-text')?.[0] ?? '';
    t.regex(config, /^DisableNetwork 1$/m);
    const events: TorControlEvent[] = [];
    conn.on('event', (e) => events.push(e));
    await conn.setEvents(['CONF_CHANGED']);
    const gotEvent = new Promise<void>((resolve) => conn.once('event', () => resolve()));
    await conn.command('SETCONF MaxCircuitDirtiness=601');
    await gotEvent;
    // A multi-line asynchronous reply: 650-CONF_CHANGED / 650-MaxCircuitDirtiness=601 / 650 OK.
    t.is(events[0]?.keyword, 'CONF_CHANGED');
    t.is(events[0]?.reply.status, 650);
    t.deepEqual(replyKeyValues(events[0]!.reply).get('MaxCircuitDirtiness'), ['601']);
  });

  test('ADD_ONION: new key persisted 0600, same address with the persisted key, derived locally too', async (t) => {
    const keyFile = path.join(scratch, 'onion-key-persist');
    const first = await connect(t);
    await authenticate(first);
    const created = await publishOnionService(first, { keyFile, ports });
    t.true(created.createdKey);
    t.is((await stat(keyFile)).mode & 0o777, 0o600);
    const blob = (await readOnionKeyFile(keyFile))!;
    t.is(onionAddressFromKey(blob), created.onionAddress);
    await first.quit(); // the service (not detached) dies with the connection

    const second = await connect(t);
    await authenticate(second);
    const again = await publishOnionService(second, {
      keyFile,
      ports: [...ports, { virtualPort: 9735, target: '127.0.0.1:9737' }],
    });
    t.false(again.createdKey);
    t.is(again.onionAddress, created.onionAddress);
    const current = replyKeyValues(await second.command('GETINFO onions/current')).get('onions/current')?.[0];
    t.is(current, created.serviceId);
  });

  test('the same key twice is 550 Onion address collision; DEL_ONION; unknown id is 552', async (t) => {
    const conn = await connect(t);
    await authenticate(conn);
    const created = await addOnion(conn, { key: 'new', ports });
    const err = await t.throwsAsync(addOnion(conn, { key: created.privateKey!, ports }), { instanceOf: TorControlError });
    t.is(err!.status, 550);
    t.is(err!.replyText, 'Onion address collision');
    await delOnion(conn, created.onionAddress);
    const readded = await addOnion(conn, { key: created.privateKey!, ports });
    t.is(readded.onionAddress, created.onionAddress);
    t.is(readded.privateKey, undefined);
    await delOnion(conn, readded.serviceId);
    const gone = await t.throwsAsync(delOnion(conn, readded.serviceId), { instanceOf: TorControlError });
    t.is(gone!.status, 552);
  });

  test('a service of a closed control connection is gone (no Detach by default)', async (t) => {
    const keyFile = path.join(scratch, 'onion-key-detach');
    const owner = await connect(t);
    await authenticate(owner);
    const published = await publishOnionService(owner, { keyFile, ports });
    const other = await connect(t);
    await authenticate(other);
    const blob = (await readOnionKeyFile(keyFile))!;
    t.is((await t.throwsAsync(addOnion(other, { key: blob, ports }), { instanceOf: TorControlError }))!.status, 550);
    await owner.quit();
    const taken = await addOnion(other, { key: blob, ports });
    t.is(taken.onionAddress, published.onionAddress);
  });

  test('Detach: reconnecting replaces the leftover service instead of failing on the collision', async (t) => {
    const keyFile = path.join(scratch, 'onion-key-detached');
    const first = await connect(t);
    await authenticate(first);
    const published = await publishOnionService(first, { keyFile, ports, detach: true });
    await first.quit();
    const second = await connect(t);
    await authenticate(second);
    const detached = replyKeyValues(await second.command('GETINFO onions/detached')).get('onions/detached')?.[0] ?? '';
    t.true(detached.split('\n').includes(published.serviceId));
    const again = await publishOnionService(second, { keyFile, ports, detach: true });
    t.is(again.onionAddress, published.onionAddress);
    await delOnion(second, again.serviceId);
  });
}
