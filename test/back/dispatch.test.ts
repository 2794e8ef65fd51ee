// The back's outgoing dispatch and reconnection policy, without processes: the decisions themselves.
import test from 'ava';
import { Dispatcher } from '../../src/back/dispatcher.js';
import { FrontRegistry } from '../../src/back/front-registry.js';
import { Reconnector } from '../../src/back/reconnector.js';
import { EcdhService } from '../../src/back/ecdh-service.js';

function registry(...fronts: Array<[string, number]>): FrontRegistry {
  const fronts_ = new FrontRegistry();
  for (const [id, livePeers] of fronts) {
    fronts_.add({ id, listenAddress: `127.0.0.1:${9000 + fronts_.list().length}`, keyless: true });
    fronts_.heartbeat(id, { livePeers, handshakesInProgress: 0, dialsInProgress: 0, bytesInPerSecond: 0, bytesOutPerSecond: 0 });
  }
  return fronts_;
}

test('dispatch goes to the least-loaded front, retries once elsewhere, and says when no front exists', async (t) => {
  const fronts = registry(['a', 5], ['b', 1], ['c', 3]);
  const asked: string[] = [];
  const dispatcher: Dispatcher = new Dispatcher({
    fronts,
    answerTimeoutMs: 1_000,
    sendConnectRequest: (frontId, requestId) => {
      asked.push(frontId);
      // b's dials fail, c's succeed.
      setImmediate(() => dispatcher.onConnectResult(frontId, requestId, frontId === 'b' ? 'refused' : 'connected', 'x'));
      return true;
    },
  });
  const result = await dispatcher.connect('02'.padEnd(66, '1'), '127.0.0.1', 9735);
  t.true(result.ok);
  t.deepEqual(asked, ['b', 'c'], 'least loaded first (b: 1 peer), then the next (c: 3 peers)');
  t.deepEqual(result.attempts.map((a) => a.outcome), ['refused', 'connected']);

  fronts.setDraining('b', true);
  asked.length = 0;
  await dispatcher.connect('02'.padEnd(66, '2'), '127.0.0.1', 9735);
  t.deepEqual(asked, ['c'], 'a draining front takes no dials');

  const none = new Dispatcher({ fronts: new FrontRegistry(), answerTimeoutMs: 1_000, sendConnectRequest: () => true });
  const failed = await none.connect('02'.padEnd(66, '3'), '127.0.0.1', 9735);
  t.false(failed.ok);
  t.is(failed.outcome, 'no-front');
  t.regex(failed.message, /no front available/);
});

test('a front that dies with dials pending fails them at once; a silent front times out', async (t) => {
  const fronts = registry(['a', 0]);
  const dispatcher = new Dispatcher({ fronts, answerTimeoutMs: 200, sendConnectRequest: () => true });
  const pending = dispatcher.connect('02'.padEnd(66, '4'), 'h', 1);
  dispatcher.onFrontGone('a');
  const result = await pending;
  t.is(result.attempts[0]!.outcome, 'failure');
  const silent = await dispatcher.connect('02'.padEnd(66, '5'), 'h', 1);
  t.is(silent.attempts[0]!.outcome, 'timeout');
});

test('reconnection: random first delay, then exponential backoff capped at one hour', (t) => {
  const reconnector = new Reconnector({ connect: async () => true, random: () => 0.5 });
  t.is(reconnector.delayFor(0), 2_500);
  t.is(reconnector.delayFor(1), 10_000);
  t.is(reconnector.delayFor(2), 20_000);
  t.is(reconnector.delayFor(3), 40_000);
  t.is(reconnector.delayFor(30), 3_600_000);
  reconnector.close();
});

test('reconnection retries until the peer is back, then stops', async (t) => {
  let attempts = 0;
  const reconnector = new Reconnector({ connect: async () => ++attempts >= 3, firstDelayMaxMs: 1, baseDelayMs: 5, maxDelayMs: 20 });
  reconnector.peerDown('peer');
  while (attempts < 3) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  t.is(attempts, 3);
  reconnector.peerUp('peer');
  t.deepEqual(reconnector.pending(), []);
  reconnector.close();
});

test('delegated ECDH: only registered fronts, rate-limited, bad points refused', (t) => {
  let now = 0;
  const service = new EcdhService({ ecdh: () => new Uint8Array(32), isRegisteredFront: (id) => id === 'a', ratePerSecond: 2, now: () => now });
  const point = new Uint8Array(33);
  t.like(service.answer('x', point), { ok: false, error: 'front not registered' });
  t.like(service.answer('a', point), { ok: true });
  t.like(service.answer('a', point), { ok: true });
  t.like(service.answer('a', point), { ok: false, error: 'rate limit exceeded' });
  now += 1000;
  t.like(service.answer('a', point), { ok: true });
  t.like(service.answer('a', new Uint8Array(5)), { ok: false });
});
