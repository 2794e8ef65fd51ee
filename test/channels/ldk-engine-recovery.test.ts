/**
 * Two engines wired in-process: a cooperative close, and a crash between the monitor write and the
 * manager write (the manager on disk older than the monitors) that must recover.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLdkEngine, type EngineEvent, type LdkChannelEngine } from '../../src/back/channels/ldk-engine.js';
import { TestChain } from '../helpers/ldk-test-chain.js';
import { DirectLink } from '../helpers/ldk-direct-link.js';

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pair(t: import('ava').ExecutionContext) {
  const dirA = mkdtempSync(join(tmpdir(), 'ldk-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'ldk-b-'));
  const chain = new TestChain();
  const link = new DirectLink();
  const events: EngineEvent[] = [];
  const start = async (side: 'a' | 'b'): Promise<LdkChannelEngine> => {
    const e = await startLdkEngine({
      dataDir: side === 'a' ? dirA : dirB,
      chain,
      host: link.host(side),
      durable: false,
      forwardDelayMs: 5,
      onEvent: (ev) => events.push(ev),
    });
    link[side] = e;
    return e;
  };
  await start('a');
  await start('b');
  t.teardown(async () => {
    await link.a?.close();
    await link.b?.close();
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  });
  await link.connect();
  link.a!.openChannel(link.b!.nodeId(), 100_000, { pushMsat: 30_000_000n });
  await until(() => events.filter((e) => e.type === 'channel-pending').length === 2);
  chain.mine(6);
  await until(() => link.a!.listChannels()[0]?.state === 'usable' && link.b!.listChannels()[0]?.state === 'usable');
  return { chain, link, events, start, dirA };
}

test('cooperative close through the engine: shutdown, closing_signed, closing transaction broadcast', async (t) => {
  const { chain, link, events } = await pair(t);
  const [channel] = link.a!.listChannels();
  const broadcastsBefore = chain.broadcasts.length;
  link.a!.closeChannel(channel!.channelId);
  await until(() => events.filter((e) => e.type === 'channel-closed').length === 2);
  t.true(chain.broadcasts.length > broadcastsBefore, 'closing transaction broadcast');
  t.is(link.a!.listChannels().length, 0);
  t.throws(() => link.a!.closeChannel(channel!.channelId), { message: /no channel/ });
});

test('crash between monitor and manager writes: the engine restarts and LDK closes the stale channel safely', async (t) => {
  const { chain, link, events, start, dirA } = await pair(t);
  const staleManager = readFileSync(join(dirA, 'manager.bin'));
  // A payment moves the monitors ahead of that manager.
  const paid = await link.a!.pay(link.b!.createInvoice(5_000_000n));
  t.truthy(paid.preimage);
  link.disconnect();
  await link.a!.close();
  link.a = undefined;
  // The crash: monitors are the latest, the manager is from before the payment.
  writeFileSync(join(dirA, 'manager.bin'), staleManager);
  writeFileSync(join(dirA, 'manager.bin.tmp-999'), 'half-written garbage from the crash');
  const broadcastsBefore = chain.broadcasts.length;
  const a = await start('a');
  // LDK refuses to run a channel whose manager is behind its monitor: it force-closes it with the
  // latest commitment (from the monitor), so no funds are lost; the engine itself is up.
  await until(() => chain.broadcasts.length > broadcastsBefore);
  t.is(a.listChannels().length, 0);
  t.is(a.nodeId().length, 33);
  t.true(events.length > 0);
});

test('restart after blocks were mined while down: monitors and manager each catch up, the channel resumes', async (t) => {
  const { chain, link, start } = await pair(t);
  link.disconnect();
  await link.a!.close();
  link.a = undefined;
  chain.mine(3); // B follows these live; A must replay them (each monitor alone, then the manager)
  const a = await start('a');
  t.is(a.listChannels()[0]?.confirmations, 9);
  await link.connect();
  await until(() => a.listChannels()[0]?.state === 'usable');
  const paid = await a.pay(link.b!.createInvoice(4_000_000n));
  t.truthy(paid.preimage);
});
