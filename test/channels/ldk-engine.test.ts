import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLdkEngine, type EngineEvent, type LdkChannelEngine } from '../../src/back/channels/ldk-engine.js';
import { TestChain } from '../helpers/ldk-test-chain.js';
import { LdkPeerProcess } from '../helpers/ldk-peer-client.js';
import { MiniBack } from '../helpers/ldk-mini-back.js';

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Collects engine events and lets a test await one. */
class Events {
  readonly seen: EngineEvent[] = [];
  private waiters = new Set<() => void>();
  push = (e: EngineEvent): void => {
    this.seen.push(e);
    for (const w of [...this.waiters]) w();
  };
  wait(match: (e: EngineEvent) => boolean, timeoutMs = 30_000): Promise<EngineEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.seen.findIndex(match);
        if (i < 0) return false;
        const [e] = this.seen.splice(i, 1);
        this.waiters.delete(on);
        clearTimeout(timer);
        resolve(e!);
        return true;
      };
      const on = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(on);
        reject(new Error('timed out waiting for an engine event'));
      }, timeoutMs);
      if (!check()) this.waiters.add(on);
    });
  }
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('an independent LDK node over BOLT 8: open, confirm, pay, reconnect, restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ldk-engine-'));
  const chain = new TestChain();
  const peer = await LdkPeerProcess.spawn();
  chain.onBlock((block, height) => void peer.request('block', { hex: Buffer.from(block).toString('hex'), height }));
  const back = new MiniBack();
  const events = new Events();
  let engine: LdkChannelEngine | undefined;
  t.teardown(async () => {
    await engine?.close();
    await back.close();
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (): Promise<LdkChannelEngine> => {
    const e = await startLdkEngine({ dataDir: dir, chain, host: back, durable: false, onEvent: events.push, forwardDelayMs: 10 });
    back.engine = e;
    return e;
  };
  engine = await start();
  const port = await back.listen();
  const nodeId = Buffer.from(engine.nodeId()).toString('hex');
  t.is(engine.nodeId().length, 33);

  // The peer dials us: BOLT 8 by our transport (ECDH by the engine), init, then the engine.
  await peer.request('connect', { port, nodeId });
  await until(() => back.connectedPeers.has(peer.nodeId));
  t.false(engine.hasChannelWith(unhex(peer.nodeId)));

  // open_channel .. funding_signed: ChannelPending on both sides.
  engine.openChannel(unhex(peer.nodeId), 100_000, { pushMsat: 30_000_000n });
  const pending = await events.wait((e) => e.type === 'channel-pending');
  await peer.waitEvent((e) => e.event === 'ChannelPending');
  t.true(engine.hasChannelWith(unhex(peer.nodeId)));
  t.is(engine.listChannels()[0]!.state, 'awaiting-confirmation');
  t.is(chain.mempool.length, 1, 'funding transaction broadcast');

  // Confirmations: channel_ready both ways.
  chain.mine(6);
  await events.wait((e) => e.type === 'channel-ready');
  await peer.waitEvent((e) => e.event === 'ChannelReady');
  await until(() => engine!.listChannels()[0]?.state === 'usable');
  const [ch] = engine.listChannels();
  t.is(ch!.capacitySats, 100_000n);
  t.is(ch!.channelId, pending.type === 'channel-pending' ? pending.channelId : '');
  t.truthy(ch!.shortChannelId);

  // We pay the peer.
  const invoice = await peer.request<string>('invoice', { msat: 5_000_000 });
  const paid = await engine.pay(invoice);
  t.is(paid.preimage.length, 64);
  await peer.waitEvent((e) => e.event === 'PaymentClaimed');

  // Disconnect and reconnect: channel_reestablish, then the peer pays us.
  await peer.request('disconnectAll');
  await until(() => !back.connectedPeers.has(peer.nodeId));
  await until(() => engine!.listChannels()[0]?.state === 'ready');
  await peer.request('connect', { port, nodeId });
  await until(() => engine!.listChannels()[0]?.state === 'usable');
  await peer.request('pay', { invoice: engine.createInvoice(4_000_000n, 'back') });
  const received = await events.wait((e) => e.type === 'payment-received');
  t.is(received.type === 'payment-received' ? received.amountMsat : 0n, 4_000_000n);
  await peer.waitEvent((e) => e.event === 'PaymentSent');

  // Restart the engine from disk: the channel comes back and reestablishes.
  const before = engine.listChannels()[0]!;
  await engine.close();
  engine = undefined;
  await until(() => !back.connectedPeers.has(peer.nodeId) || true);
  await back.close();
  engine = await start();
  const port2 = await back.listen();
  const after = engine.listChannels();
  t.is(after.length, 1);
  t.is(after[0]!.channelId, before.channelId);
  t.is(after[0]!.outboundMsat, before.outboundMsat);
  await until(async () => (await peer.request<string[]>('peers')).length === 0);
  await peer.request('connect', { port: port2, nodeId });
  await until(() => engine!.listChannels()[0]?.state === 'usable');
  const again = await engine.pay(await peer.request<string>('invoice', { msat: 4_000_000 }));
  t.truthy(again.preimage);
});
