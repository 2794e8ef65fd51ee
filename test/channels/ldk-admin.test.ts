// The LDK engine's admin commands (argument checks, error statuses, JSON shapes) against a fake
// engine, and the cli's argument checks for them. The real engine behind them: test/e2e/channels.test.ts.
import test from 'ava';
import { AdminError } from '../../src/back/admin-api.js';
import { ldkAdminCommands, type LdkAdminTarget } from '../../src/back/channels/ldk-admin.js';
import { ChannelEngineError } from '../../src/back/channels/errors.js';
import type { ChannelInfo } from '../../src/back/channels/ldk-engine.js';
import { channelCommandBody, CliError } from '../../src/cli/admin-client.js';

const PEER = `02${'11'.repeat(32)}`;
const CHANNEL = 'ab'.repeat(32);

function fakeEngine() {
  const calls: unknown[][] = [];
  const channel: ChannelInfo = {
    channelId: CHANNEL,
    peer: PEER,
    state: 'usable',
    capacitySats: 100_000n,
    outboundMsat: 90_000_000n,
    inboundMsat: 2n ** 60n,
    shortChannelId: '101x1x0',
    fundingTxo: undefined,
    confirmations: 6,
    isOutbound: true,
    isPublic: false,
  };
  const engine: LdkAdminTarget = {
    listChannels: () => [channel],
    openChannel: (nodeId, sats, options) => {
      calls.push(['open', Buffer.from(nodeId).toString('hex'), sats, options]);
      return 'cd'.repeat(32);
    },
    closeChannel: (channelId, options) => {
      calls.push(['close', channelId, options]);
      if (channelId !== CHANNEL) throw new ChannelEngineError('unknown-channel', `no channel ${channelId}`);
    },
    createInvoice: (msat, description, expiry) => {
      calls.push(['invoice', msat, description, expiry]);
      return 'lnbcrt1fake';
    },
    pay: async (invoice, amountMsat) => {
      calls.push(['pay', invoice, amountMsat]);
      if (invoice === 'lnbcrt1bad') throw new ChannelEngineError('payment-failed', 'payment failed: RouteNotFound');
      return { paymentId: '00', paymentHash: '11', preimage: '22', feeMsat: 1000n };
    },
  };
  return { engine, calls, commands: ldkAdminCommands(engine) };
}

async function status(fn: () => unknown): Promise<number> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof AdminError) return error.status;
    throw error;
  }
  return 200;
}

test('channels: plain JSON, amounts as numbers while exact and strings beyond', (t) => {
  const { commands } = fakeEngine();
  const [view] = commands.get!['channels']!({}) as Array<Record<string, unknown>>;
  t.is(view!['capacitySats'], 100_000);
  t.is(view!['outboundMsat'], 90_000_000);
  t.is(view!['inboundMsat'], (2n ** 60n).toString());
  t.is(view!['fundingTxo'], null);
  t.notThrows(() => JSON.stringify(view));
});

test('open: from JSON fields or cli positional args; bad node ids and amounts are 400', async (t) => {
  const { commands, calls } = fakeEngine();
  const open = commands.post!['open']!;
  t.deepEqual(open({ nodeId: PEER, sats: 50_000, announce: true }), { temporaryChannelId: 'cd'.repeat(32), peer: PEER, capacitySats: 50_000 });
  open({ args: [PEER, '60000'] });
  t.deepEqual(calls[0], ['open', PEER, 50_000n, { announce: true }]);
  t.deepEqual(calls[1], ['open', PEER, 60_000n, {}]);
  t.is(await status(() => open({ nodeId: '02zz', sats: 1 })), 400);
  t.is(await status(() => open({ nodeId: PEER, sats: -5 })), 400);
  t.is(await status(() => open({ nodeId: PEER, sats: '1e9' })), 400);
  t.is(await status(() => open({ nodeId: PEER })), 400);
  t.is(await status(() => open({ nodeId: PEER, sats: 1, announce: 'maybe' })), 400);
});

test('close: unknown channel is 404; invoice and pay map engine errors to statuses', async (t) => {
  const { commands, calls } = fakeEngine();
  const post = commands.post!;
  t.deepEqual(post['close']!({ channelId: CHANNEL.toUpperCase() }), { channelId: CHANNEL, closing: 'cooperative' });
  t.is(await status(() => post['close']!({ channelId: 'ef'.repeat(32), force: true })), 404);
  t.is(await status(() => post['close']!({ channelId: 'xyz' })), 400);
  t.deepEqual(post['invoice']!({ args: ['5000', 'coffee'] }), { invoice: 'lnbcrt1fake' });
  t.deepEqual(calls.at(-1), ['invoice', 5000n, 'coffee', undefined]);
  post['invoice']!({});
  t.deepEqual(calls.at(-1), ['invoice', undefined, '', undefined]);
  t.deepEqual(await post['pay']!({ invoice: 'lnbcrt1good' }), { paymentId: '00', paymentHash: '11', preimage: '22', feeMsat: 1000 });
  t.is(await status(() => post['pay']!({ invoice: 'lnbcrt1bad' })), 409);
  t.is(await status(() => post['pay']!({})), 400);
});

test('cli: channel commands check their arguments before calling the back', (t) => {
  t.is(channelCommandBody('channels', []), undefined);
  t.deepEqual(channelCommandBody('open', [PEER.toUpperCase(), '100000', '--public']), { nodeId: PEER, sats: '100000', announce: true });
  t.deepEqual(channelCommandBody('close', [CHANNEL, '--force']), { channelId: CHANNEL, force: true });
  t.deepEqual(channelCommandBody('invoice', ['any']), {});
  t.deepEqual(channelCommandBody('invoice', ['1000', 'two', 'words']), { msat: '1000', description: 'two words' });
  t.deepEqual(channelCommandBody('pay', ['lnbcrt1x', '500']), { invoice: 'lnbcrt1x', amountMsat: '500' });
  for (const [command, args] of [
    ['open', [PEER]],
    ['open', ['03abc', '1']],
    ['close', ['12']],
    ['close', [CHANNEL, '--public']],
    ['invoice', []],
    ['invoice', ['1.5']],
    ['pay', []],
    ['pay', ['lnbcrt1x', 'lots']],
  ] as Array<[string, string[]]>) {
    const error = t.throws(() => channelCommandBody(command, args), { instanceOf: CliError }, `${command} ${args.join(' ')}`);
    t.is(error?.exitCode, 2);
  }
});
