/**
 * Bad and repeated input straight into the engine (no network): malformed BOLT 2 messages get a
 * warning or error and a disconnect, never an exception; memory stays flat over many messages.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes } from 'node:crypto';
import { startLdkEngine, type LdkChannelEngine } from '../../src/back/channels/ldk-engine.js';
import { ldkWasmMemoryBytes } from '../../src/back/channels/ldk-wasm.js';
import { MessageType } from '../../src/back/channels/ldk-wire.js';
import type { ChannelEngineHost } from '../../src/back/channel-engine.js';
import { TestChain } from '../helpers/ldk-test-chain.js';
import { initMessage } from '../helpers/ldk-mini-back.js';

class RecordingHost implements ChannelEngineHost {
  sent: Uint8Array[] = [];
  disconnects: string[] = [];
  count = 0;
  keep = true;
  sendToPeer(_nodeId: Uint8Array, message: Uint8Array): void {
    this.count++;
    if (this.keep) this.sent.push(message);
  }
  disconnectPeer(_nodeId: Uint8Array, reason: string): void {
    this.disconnects.push(reason);
  }
  types(): number[] {
    return this.sent.map((m) => (m[0]! << 8) | m[1]!);
  }
}

const peerId = (): Uint8Array => {
  // Any valid compressed point will do: the generator G.
  return new Uint8Array(Buffer.from('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
};

function msg(type: number, payload: Uint8Array | number[]): Uint8Array {
  const out = new Uint8Array(2 + payload.length);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  out.set(payload, 2);
  return out;
}

async function withEngine(run: (engine: LdkChannelEngine, host: RecordingHost) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ldk-input-'));
  const host = new RecordingHost();
  const engine = await startLdkEngine({ dataDir: dir, chain: new TestChain(), host, durable: false });
  try {
    await run(engine, host);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function connect(engine: LdkChannelEngine): Promise<void> {
  await engine.peerConnected({ nodeId: peerId(), inbound: true, init: initMessage(engine.initFeatures()), remoteAddress: '127.0.0.1:1' });
}

test('malformed and unexpected channel messages: warning or error, disconnect, no exception', async (t) => {
  await withEngine(async (engine, host) => {
    await connect(engine);
    // A truncated open_channel: LDK's PeerManager answers a warning and disconnects; so do we.
    t.notThrows(() => engine.handleMessage(peerId(), msg(MessageType.openChannel, randomBytes(10))));
    t.deepEqual(host.types(), [MessageType.warning]);
    t.is(host.disconnects.length, 1);
    // Disconnected: further messages are dropped until the next peerConnected.
    engine.handleMessage(peerId(), msg(MessageType.openChannel, randomBytes(10)));
    t.is(host.sent.length, 1);

    // Well-formed, for a channel that does not exist: an error or warning back, the engine carries on.
    await connect(engine);
    host.sent = [];
    const updateFee = new Uint8Array(36);
    updateFee.set(randomBytes(32), 0);
    updateFee[35] = 0xfd;
    engine.handleMessage(peerId(), msg(MessageType.updateFee, updateFee));
    t.true(host.types().some((type) => type === MessageType.error || type === MessageType.warning));

    // Unknown odd: ignored. Unknown even: disconnect.
    const before = host.disconnects.length;
    engine.handleMessage(peerId(), msg(32769, [1, 2, 3]));
    t.is(host.disconnects.length, before);
    engine.handleMessage(peerId(), msg(32768, [1, 2, 3]));
    t.is(host.disconnects.length, before + 1);

    // error for channel 0 (all channels): disconnect, as LDK's PeerManager does.
    await connect(engine);
    const error = new Uint8Array(36);
    engine.handleMessage(peerId(), msg(MessageType.error, error));
    t.is(host.disconnects.length, before + 2);

    // Random bytes under every channel type, and truncated headers: never an exception.
    const types = [1, 2, 17, 32, 33, 34, 35, 36, 38, 39, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 128, 130, 131, 132, 133, 134, 135, 136, 258, 259];
    for (const type of types) {
      for (const length of [0, 1, 33, 100, 400]) {
        await connect(engine);
        t.notThrows(() => engine.handleMessage(peerId(), msg(type, randomBytes(length))), `type ${type} length ${length}`);
      }
    }
    await connect(engine);
    t.notThrows(() => engine.handleMessage(peerId(), new Uint8Array([0])));
    t.notThrows(() => engine.handleMessage(peerId(), new Uint8Array(0)));

    // Still alive: a fresh peer can be told about (no channels), ECDH still answers.
    t.false(engine.hasChannelWith(peerId()));
    t.is(engine.ecdh(peerId()).length, 32);
  });
});

test('a peer on another chain, or with a broken init, is rejected', async (t) => {
  await withEngine(async (engine) => {
    const init = initMessage(engine.initFeatures());
    const otherChain = init.slice();
    otherChain[otherChain.length - 1] ^= 1;
    await t.throwsAsync(engine.peerConnected({ nodeId: peerId(), inbound: true, init: otherChain, remoteAddress: '' }), {
      message: /another chain/,
    });
    await t.throwsAsync(engine.peerConnected({ nodeId: peerId(), inbound: true, init: init.subarray(0, 5), remoteAddress: '' }), {
      message: /does not decode/,
    });
    // Without the features LDK requires (data_loss_protect, static_remotekey...): LDK refuses.
    await t.throwsAsync(engine.peerConnected({ nodeId: peerId(), inbound: true, init: initMessage(new Uint8Array(0)), remoteAddress: '' }), {
      message: /refused/,
    });
    t.false(engine.hasChannelWith(peerId()));
  });
});

test.serial('memory stays flat over many channel messages (JS heap and WASM memory)', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await withEngine(async (engine, host) => {
    host.keep = false;
    await connect(engine);
    const payload = new Uint8Array(36);
    payload[35] = 0xfd;
    // Messages arrive from sockets, a batch per task: finalizers get their turn in between.
    const round = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        payload[0] = i & 0xff;
        payload[1] = (i >> 8) & 0xff;
        engine.handleMessage(peerId(), msg(MessageType.updateFee, payload));
        if (i % 500 === 499) await new Promise((r) => setImmediate(r));
        // A collection every 2,000 messages bounds the objects awaiting their finalizers whatever the
        // machine's load (a busy machine delays concurrent GC, raising the WASM high-water mark);
        // a leak (objects still reachable) shows all the same.
        if (i % 2000 === 1999) {
          gc();
          await new Promise((r) => setTimeout(r, 1));
        }
      }
    };
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    // Warm-up: the WASM heap has a high-water mark (allocator, objects awaiting their finalizers)
    // reached within 30-40k messages here; growth after it means a leak.
    await round(30_000);
    await settle();
    const heap0 = process.memoryUsage().heapUsed;
    const wasm0 = ldkWasmMemoryBytes();
    await round(30_000);
    await settle();
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    const wasmGrowth = ldkWasmMemoryBytes() - wasm0;
    t.log(`messages 30k..60k: heap ${(heapGrowth / 1e6).toFixed(2)} MB, wasm ${(wasmGrowth / 1e6).toFixed(2)} MB, replies ${host.count}`);
    t.true(host.count >= 60_000, 'every message went through LDK and got an answer');
    // The traps this guards against cost ~1 kB of heap and ~0.7 kB of WASM per message (30 MB and 20 MB here).
    t.true(heapGrowth < 4e6, `heap grew by ${heapGrowth} bytes`);
    t.true(wasmGrowth < 2e6, `wasm memory grew by ${wasmGrowth} bytes`);
  });
});
