// Child process for the kill -9 test: writes rounds of channel_updates to a GossipStore until killed.
// Every round replaces both updates of every channel with timestamp BASE + round and is flushed as one
// transaction, so any committed state has all updates at one round: the parent checks exactly that.
// Usage: node store-writer.js <db path>
import { defaultCrypto } from '../../../src/lightning/crypto/index.js';
import { chainHash } from '../../../src/lightning/chains.js';
import { signChannelUpdate, syntheticGraph, syntheticUpdateFields } from '../../../src/lightning/gossip/index.js';
import { GossipStore, RoutingTable } from '../../../src/back/gossip/index.js';
import { pathToFileURL } from 'node:url';

export const WRITER_BASE = 1_770_000_000;
export const WRITER_CHANNELS = 60;

// Runs only as a script (the test imports the constants above).
const path = import.meta.url === pathToFileURL(process.argv[1] ?? '').href ? process.argv[2] : undefined;
if (path) {
  const crypto = defaultCrypto();
  let now = WRITER_BASE;
  const table = new RoutingTable({ now: () => now });
  const store = GossipStore.open(path, { flushIntervalMs: 60_000, maxPending: 1_000_000 });
  store.attach(table);
  const graph = syntheticGraph({ nodes: 20, channels: WRITER_CHANNELS, timestamp: WRITER_BASE, seed: 'kill-test' });
  for (const m of graph.messages) table.ingest(m);
  store.flush();
  process.stdout.write('round 0\n');
  const chain = chainHash('bitcoin');
  for (let round = 1; ; round++) {
    now = WRITER_BASE + round;
    for (const c of graph.channels) {
      for (const d of [0, 1] as const) {
        const key = graph.nodes[d === 0 ? c.node1 : c.node2]!.secretKey;
        const u = signChannelUpdate(crypto, { ...syntheticUpdateFields(chain, c.scid, d, WRITER_BASE + round), feeBaseMsat: round }, key);
        const decision = table.ingest(u);
        if (!decision.accepted) throw new Error(`round ${round}: ${decision.reason}`);
      }
    }
    store.flush();
    process.stdout.write(`round ${round}\n`);
  }
}
