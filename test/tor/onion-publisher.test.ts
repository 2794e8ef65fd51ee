/**
 * The watched controller against a real tor that is killed and started again on the same control port:
 * the publisher notices, reconnects with backoff, and publishes the same address again.
 */
import test from 'ava';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { authenticate } from '../../src/tor/auth.js';
import { TorControlConnection, TorControlError } from '../../src/tor/control-connection.js';
import { OnionServicePublisher, type PublisherRetry } from '../../src/tor/onion-publisher.js';
import { addOnion, readOnionKeyFile, type PublishedOnionService } from '../../src/tor/onion-service.js';
import { freePort, startTor, torOrExplain, type TorInstance } from './tor-process.js';

const torBin = await torOrExplain(test, 'onion publisher');

if (torBin) {
  test('publishes, re-publishes the same address after Tor restarts, removes the service on stop', async (t) => {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'lncluster-publisher-'));
    const dataDir = path.join(scratch, 'tor');
    await mkdir(dataDir, { mode: 0o700 });
    const keyFile = path.join(scratch, 'onion.key');
    const controlPort = await freePort();
    let tor: TorInstance = await startTor(torBin, { dataDir, controlPort });
    t.teardown(async () => {
      await tor.kill();
      await rm(scratch, { recursive: true, force: true });
    });

    const ports = [{ virtualPort: 9735, target: '127.0.0.1:9736' }];
    const publisher = new OnionServicePublisher({
      control: { host: '127.0.0.1', port: controlPort },
      keyFile,
      ports,
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 5_000,
      backoff: { initialMs: 50, maxMs: 400, factor: 2 },
    });
    const retries: PublisherRetry[] = [];
    publisher.on('retry', (r) => retries.push(r));
    const controller = new AbortController();
    t.teardown(() => controller.abort());
    const firstPublished = once(publisher, 'published');
    const running = publisher.run(controller.signal);
    const [first] = (await firstPublished) as [PublishedOnionService];
    t.true(first.createdKey);
    t.is(publisher.current?.onionAddress, first.onionAddress);

    /** ADD_ONION with our key on another connection: 550 while the publisher holds the service. */
    const serviceIsHeld = async (): Promise<boolean> => {
      const conn = await TorControlConnection.connect({ host: '127.0.0.1', port: controlPort });
      try {
        await authenticate(conn);
        await addOnion(conn, { key: (await readOnionKeyFile(keyFile))!, ports });
        return false;
      } catch (err) {
        if (err instanceof TorControlError && err.status === 550) return true;
        throw err;
      } finally {
        await conn.quit();
      }
    };
    t.true(await serviceIsHeld());

    const disconnected = once(publisher, 'disconnected');
    const republished = once(publisher, 'published');
    await tor.kill();
    await disconnected;
    t.is(publisher.current, undefined);
    tor = await startTor(torBin, { dataDir, controlPort });
    const [second] = (await republished) as [PublishedOnionService];
    t.is(second.onionAddress, first.onionAddress);
    t.false(second.createdKey);
    t.true(retries.length >= 1, 'reconnected through at least one retry');
    t.true(await serviceIsHeld());

    controller.abort();
    await running;
    t.is(publisher.current, undefined);
    t.false(await serviceIsHeld(), 'DEL_ONION on stop: the key is free again');
  });
}
