/**
 * Public channels: after six confirmations the engines exchange announcement_signatures and LDK
 * asks for the channel_announcement and channel_updates to be broadcast; the engine hands them to
 * `onGossip` (the hook the routing table and the fronts' rebroadcast connect to), as whole wire
 * messages whose signatures check with the project's own gossip verifier.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLdkEngine, type EngineEvent, type LdkChannelEngine } from '../../src/back/channels/ldk-engine.js';
import { verifyChannelAnnouncement, verifyChannelUpdateBy } from '../../src/lightning/gossip/signatures.js';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { TestChain } from '../helpers/ldk-test-chain.js';
import { DirectLink } from '../helpers/ldk-direct-link.js';

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const typeOf = (m: Uint8Array): number => (m[0]! << 8) | m[1]!;

test('an announced channel: channel_announcement and channel_update reach onGossip, correctly signed', async (t) => {
  const dirs = [mkdtempSync(join(tmpdir(), 'ldk-ga-')), mkdtempSync(join(tmpdir(), 'ldk-gb-'))];
  const chain = new TestChain();
  const link = new DirectLink();
  const events: EngineEvent[] = [];
  const gossip: Record<'a' | 'b', Uint8Array[]> = { a: [], b: [] };
  const start = async (side: 'a' | 'b', dir: string): Promise<LdkChannelEngine> => {
    const engine = await startLdkEngine({
      dataDir: dir,
      chain,
      host: link.host(side),
      durable: false,
      // As the engine factory configures the node: public channels accepted.
      configure: (config) => config.get_channel_handshake_limits().set_force_announced_channel_preference(false),
      onEvent: (e) => events.push(e),
      onGossip: (messages) => gossip[side].push(...messages.map((m) => m.slice())),
    });
    link[side] = engine;
    return engine;
  };
  const a = await start('a', dirs[0]!);
  const b = await start('b', dirs[1]!);
  t.teardown(async () => {
    await a.close();
    await b.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  await link.connect();
  a.openChannel(b.nodeId(), 100_000, { announce: true });
  await until(() => events.filter((e) => e.type === 'channel-pending').length === 2);
  chain.mine(6);
  await until(() => a.listChannels()[0]?.state === 'usable');
  t.true(a.listChannels()[0]!.isPublic);
  chain.mine(1); // announcement_signatures go out on a block after both sides are ready

  await until(() => gossip.a.some((m) => typeOf(m) === 256) && gossip.b.some((m) => typeOf(m) === 256));
  const crypto = defaultCrypto();
  const announcement = gossip.a.find((m) => typeOf(m) === 256)!;
  t.deepEqual(verifyChannelAnnouncement(crypto, announcement), { ok: true });
  const hexIds = [a.nodeId(), b.nodeId()].map((id) => Buffer.from(id).toString('hex'));
  const announced = Buffer.from(announcement).toString('hex');
  for (const id of hexIds) t.true(announced.includes(id), 'both node ids in the announcement');
  const update = gossip.a.find((m) => typeOf(m) === 258);
  t.truthy(update, 'our channel_update with the announcement');
  t.deepEqual(verifyChannelUpdateBy(crypto, update!, a.nodeId()), { ok: true });
});
