// Every channel_announcement and node_announcement of ../shared/data/gossip/real verifies; channel_updates
// verify wherever their signer is known (their channel_announcement is in the same file); flipped bytes fail.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { createRequire } from 'node:module';
import { gossipDigest, verifyChannelAnnouncement, verifyChannelUpdate, verifyChannelUpdateBy, verifyNodeAnnouncement } from '../../src/lightning/gossip/index.js';
import { decodeChannelAnnouncement, decodeChannelUpdate, decodeNodeAnnouncement, readGossipRecords, type ChannelAnnouncement } from '../../src/lightning/wire/index.js';

// Public-key recovery (libsecp256k1) finds the candidate signer of an update whose channel_announcement is
// not in the file; it counts as known only if it is the node id of a node_announcement of the same file.
const secp = createRequire(import.meta.url)('secp256k1/bindings') as { ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array };
function recoverCandidates(signature: Uint8Array, digest: Uint8Array): string[] {
  const out: string[] = [];
  for (const recid of [0, 1]) {
    try {
      out.push(Buffer.from(secp.ecdsaRecover(signature, recid, digest, true)).toString('hex'));
    } catch {
      // no point for this recid
    }
  }
  return out;
}

const REAL = path.resolve(process.cwd(), '../shared/data/gossip/real');
const files = readdirSync(REAL).filter((f) => f.endsWith('.gossip'));
const crypto = defaultCrypto();
const typeOf = (m: Uint8Array) => (m[0]! << 8) | m[1]!;

test('the real samples are all there', (t) => {
  t.deepEqual(files.sort(), ['cln-pyln-client-2021.gossip', 'ln-history-channel-announcements.gossip', 'lnresearch-gossip-2025.gossip', 'node-lightning-fixtures.gossip']);
});

for (const file of files) {
  test(`${file}: announcements verify, updates verify where the signer is known, flips fail`, (t) => {
    const messages = [...readGossipRecords(new Uint8Array(readFileSync(path.join(REAL, file))))];
    const channels = new Map<bigint, ChannelAnnouncement>();
    const announcedNodes = new Map<string, Uint8Array>();
    let recovered = 0;
    let anns = 0;
    let nodes = 0;
    let updates = 0;
    let verifiedUpdates = 0;
    for (const m of messages) {
      const type = typeOf(m);
      if (type === 256) {
        anns++;
        const d = decodeChannelAnnouncement(m);
        const r = verifyChannelAnnouncement(crypto, m, d);
        if (!r.ok) t.fail(`channel_announcement ${anns}: ${r.field}`);
        channels.set(d.shortChannelId, d);
      } else if (type === 257) {
        nodes++;
        if (!verifyNodeAnnouncement(crypto, m).ok) t.fail(`node_announcement ${nodes}`);
        const id = decodeNodeAnnouncement(m).nodeId;
        announcedNodes.set(Buffer.from(id).toString('hex'), id);
      }
    }
    const flipAt = (m: Uint8Array, at: number) => {
      const c = m.slice();
      c[at]! ^= 0x80;
      return c;
    };
    let flippedChecked = 0;
    for (const m of messages) {
      if (typeOf(m) !== 258) continue;
      updates++;
      const d = decodeChannelUpdate(m);
      const channel = channels.get(d.shortChannelId);
      if (!channel) {
        const signer = recoverCandidates(d.signature, gossipDigest(crypto, m)).find((k) => announcedNodes.has(k));
        if (!signer) continue;
        if (!verifyChannelUpdateBy(crypto, m, announcedNodes.get(signer)!, d).ok) t.fail(`channel_update ${updates} (recovered signer)`);
        recovered++;
        if (recovered <= 50) t.false(verifyChannelUpdateBy(crypto, flipAt(m, m.length - 1), announcedNodes.get(signer)!).ok);
        continue;
      }
      if (!verifyChannelUpdate(crypto, m, channel, d).ok) t.fail(`channel_update ${updates}`);
      verifiedUpdates++;
      if (flippedChecked++ < 50) t.false(verifyChannelUpdate(crypto, flipAt(m, m.length - 1), channel).ok);
    }
    for (const m of messages.slice(0, 200)) {
      const type = typeOf(m);
      if (type === 256) t.false(verifyChannelAnnouncement(crypto, flipAt(m, m.length - 1)).ok);
      if (type === 257) t.false(verifyNodeAnnouncement(crypto, flipAt(m, 10)).ok);
    }
    t.log(`${anns} channel_announcements, ${nodes} node_announcements verified; ${verifiedUpdates} of ${updates} channel_updates have their channel_announcement in the file and verify; ${recovered} more are signed by an announced node (recovered key) and verify`);
    t.true(anns + nodes > 0);
    if (file === 'lnresearch-gossip-2025.gossip') t.true(verifiedUpdates >= 60 && recovered > 1000);
  });
}
