// Wire decode throughput: generated batches of channel_updates (40% carrying LND's 12-byte inbound-fee
// TLV, as on mainnet) and channel_announcements, decoded with decodeMessage. Best of several passes.
import { randomBytes } from 'node:crypto';
import {
  channelUpdateChecksum,
  decodeMessage,
  encodeChannelAnnouncement,
  encodeChannelUpdate,
  scidFromParts,
} from '../src/lightning/wire/index.js';
import type { BenchResult } from './result.js';
export type { BenchResult } from './result.js';


export interface WireBenchOptions {
  /** Messages per generated batch. */
  readonly batch?: number;
  /** Timed passes over each batch; the best counts. */
  readonly passes?: number;
}

const DEFAULTS: Required<WireBenchOptions> = { batch: 20_000, passes: 5 };

const rand = (n: number) => new Uint8Array(randomBytes(n));
const chain = rand(32);

function makeUpdates(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      encodeChannelUpdate({
        type: 'channel_update',
        signature: rand(64),
        chainHash: chain,
        shortChannelId: scidFromParts(700_000 + (i % 200_000), i % 3000, i % 4),
        timestamp: 1_760_000_000 + i,
        messageFlags: 1,
        channelFlags: i & 1,
        cltvExpiryDelta: 144,
        htlcMinimumMsat: 1000n,
        feeBaseMsat: 1000,
        feeProportionalMillionths: 100 + (i % 500),
        htlcMaximumMsat: 990_000_000n,
        ...(i % 5 < 2 ? { trailing: Uint8Array.of(0xfd, 0xd9, 0x03, 0x08, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xce) } : {}),
      }),
    );
  }
  return out;
}

function makeAnnouncements(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const key = () => Uint8Array.of(2, ...rand(32));
  for (let i = 0; i < n; i++) {
    out.push(
      encodeChannelAnnouncement({
        type: 'channel_announcement',
        nodeSignature1: rand(64),
        nodeSignature2: rand(64),
        bitcoinSignature1: rand(64),
        bitcoinSignature2: rand(64),
        features: new Uint8Array(0),
        chainHash: chain,
        shortChannelId: scidFromParts(700_000 + i, i % 3000, 0),
        nodeId1: key(),
        nodeId2: key(),
        bitcoinKey1: key(),
        bitcoinKey2: key(),
      }),
    );
  }
  return out;
}

function bestRate(batch: Uint8Array[], passes: number, fn: (m: Uint8Array) => unknown): number {
  let sink = 0;
  for (const m of batch.slice(0, 2000)) sink ^= fn(m) ? 1 : 0; // warm-up: let the JIT settle
  let best = 0;
  for (let p = 0; p < passes; p++) {
    const t0 = process.hrtime.bigint();
    for (const m of batch) sink ^= fn(m) ? 1 : 0;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, batch.length / secs);
  }
  if (sink === 42) console.log(''); // keep `sink` observable so the loop is not optimised away
  return Math.round(best);
}

export async function benchWire(options: WireBenchOptions = {}): Promise<BenchResult[]> {
  const { batch, passes } = { ...DEFAULTS, ...options };
  const updates = makeUpdates(batch);
  const announcements = makeAnnouncements(Math.max(1, Math.floor(batch / 4)));
  return [
    { bench: 'wire.decode.channel_update', value: bestRate(updates, passes, decodeMessage), unit: 'msgs/s', baseline: null },
    { bench: 'wire.decode.channel_announcement', value: bestRate(announcements, passes, decodeMessage), unit: 'msgs/s', baseline: null },
    { bench: 'wire.checksum.channel_update', value: bestRate(updates, passes, channelUpdateChecksum), unit: 'msgs/s', baseline: null },
  ];
}
