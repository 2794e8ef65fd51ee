import test from 'ava';
import {
  MAX_INFLATED_BYTES,
  WireError,
  addressToString,
  channelUpdateChecksum,
  crc32c,
  decodeAddressDescriptor,
  decodeChannelUpdate,
  decodeMessage,
  decodeNodeAnnouncement,
  encodeAddressDescriptor,
  encodeMessage,
  encodeTlvStream,
  gossipSignedBytes,
  isChannelMessage,
  isGossipMessage,
  messageTypeName,
  readGossipRecords,
  scidFromParts,
  scidFromString,
  scidToParts,
  scidToString,
  streamGossipRecords,
  writeGossipRecords,
  type NodeAnnouncement,
  type WireMessage,
} from '../../src/lightning/wire/index.js';
import { deflateSync } from 'node:zlib';
import { fixture, hex, toHex } from './helpers.js';

const chain = hex('6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000');
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof WireError ? err.code : `not a WireError: ${String(err)}`;
  }
  return 'no error';
};

function roundTrip(t: import('ava').ExecutionContext, m: WireMessage): Uint8Array {
  const bytes = encodeMessage(m);
  const back = decodeMessage(bytes);
  t.deepEqual(back, m);
  t.deepEqual(encodeMessage(back), bytes);
  return bytes;
}

test('committed real gossip decodes and re-encodes byte-identically', (t) => {
  const counts: Record<string, number> = {};
  let trailing = 0;
  for (const file of ['gossip/node-lightning-fixtures.gossip', 'gossip/lnresearch-sample.gossip']) {
    for (const rec of readGossipRecords(fixture(file))) {
      const m = decodeMessage(rec);
      counts[m.type] = (counts[m.type] ?? 0) + 1;
      t.is(toHex(encodeMessage(m)), toHex(rec));
      if (m.type === 'channel_update' && rec.length === 150) {
        trailing++;
        t.is(m.trailing?.length, 12);
        // LND inbound fee: TLV type 55555 (fd d903), length 8.
        t.is(toHex(m.trailing!.subarray(0, 4)), 'fdd90308');
      }
    }
  }
  t.deepEqual(counts, { channel_announcement: 5, channel_update: 10, node_announcement: 10 });
  t.is(trailing, 3);
});

test('channel_update fields, signed bytes and checksum', (t) => {
  const rec = [...readGossipRecords(fixture('gossip/lnresearch-sample.gossip'))].find((r) => r.length === 150)!;
  const u = decodeChannelUpdate(rec);
  t.is(u.messageFlags & 1, 1);
  t.true(u.htlcMaximumMsat! > 0n);
  t.is(gossipSignedBytes(rec).length, 150 - 66);
  // The checksum skips type, signature and timestamp but covers the trailing TLV.
  const expected = crc32c(Uint8Array.from([...rec.subarray(66, 106), ...rec.subarray(110)]));
  t.is(channelUpdateChecksum(rec), expected);
  const newer = rec.slice();
  newer[109]! ^= 0xff; // timestamp: not covered
  newer[10]! ^= 0xff; // signature: not covered
  t.is(channelUpdateChecksum(newer), expected);
  const changedFee = rec.slice();
  changedFee[130]! ^= 1;
  t.not(channelUpdateChecksum(changedFee), expected);
  t.is(code(() => channelUpdateChecksum(rec.subarray(0, 100))), 'truncated');
  // Old-style update without htlc_maximum_msat: kept exactly.
  const old = { ...u, messageFlags: 0, htlcMaximumMsat: undefined, trailing: undefined };
  delete (old as { htlcMaximumMsat?: bigint }).htlcMaximumMsat;
  delete (old as { trailing?: Uint8Array }).trailing;
  t.is(roundTrip(t, old).length, 130);
});

test('CRC32C: RFC 3720 B.4 vectors', (t) => {
  t.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  t.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  t.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  t.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  const data = new TextEncoder().encode('123456789');
  t.is(crc32c(data.subarray(4), crc32c(data.subarray(0, 4))), 0xe3069283, 'continues over parts');
});

test('node_announcement addresses: every type, unknown types kept verbatim', (t) => {
  const base: NodeAnnouncement = {
    type: 'node_announcement',
    signature: new Uint8Array(64).fill(1),
    features: hex('0800'),
    timestamp: 1700000000,
    nodeId: Uint8Array.of(2, ...new Array(32).fill(7)),
    rgbColor: hex('ff0000'),
    alias: new Uint8Array(32),
    addresses: [
      { type: 'ipv4', addr: Uint8Array.of(127, 0, 0, 1), port: 9735 },
      { type: 'ipv6', addr: hex('20010db8000000000000000000000001'), port: 9736 },
      { type: 'torv3', addr: new Uint8Array(35).fill(3), port: 9737 },
      { type: 'dns', hostname: 'node.example.com', port: 9738 },
    ],
  };
  roundTrip(t, base);
  t.deepEqual(base.addresses.map(addressToString).slice(0, 2), ['127.0.0.1:9735', '[2001:db8::1]:9736']);
  t.is(addressToString(base.addresses[2]!).length, 56 + '.onion:9737'.length);
  t.is(addressToString(base.addresses[3]!), 'node.example.com:9738');
  // An unknown type (7) stops parsing: the rest, including a known type after it, stays raw.
  const withUnknown = { ...base, addressesTail: hex('07deadbeef01c0a800012607') };
  const bytes = roundTrip(t, withUnknown);
  t.is(decodeNodeAnnouncement(bytes).addresses.length, 4);
  // A truncated known descriptor is kept raw as well (BOLT 7: the receiver may warn; decoding does not fail).
  roundTrip(t, { ...base, addresses: [], addressesTail: hex('01c0a8') });
  // Trailing bytes after the addresses (future fields) are part of the signed data and kept.
  roundTrip(t, { ...base, trailing: hex('0102030405') });
  t.is(code(() => encodeMessage({ ...base, addresses: [{ type: 'dns', hostname: 'x'.repeat(256), port: 1 }] })), 'too-long');
  t.is(code(() => encodeMessage({ ...base, addresses: [{ type: 'ipv4', addr: new Uint8Array(5), port: 1 }] })), 'bad-value');
  const remote = encodeAddressDescriptor({ type: 'ipv4', addr: Uint8Array.of(10, 0, 0, 1), port: 9735 });
  t.deepEqual(decodeAddressDescriptor(remote), { type: 'ipv4', addr: Uint8Array.of(10, 0, 0, 1), port: 9735 });
  t.is(code(() => decodeAddressDescriptor(hex('09aa'))), 'bad-value');
});

test('BOLT 1 messages round-trip: init with networks and remote_addr, error, warning, ping, pong', (t) => {
  const init = roundTrip(t, {
    type: 'init',
    globalFeatures: new Uint8Array(0),
    features: hex('08a2a1'),
    networks: [chain, new Uint8Array(32).fill(9)],
    remoteAddr: encodeAddressDescriptor({ type: 'ipv4', addr: Uint8Array.of(1, 2, 3, 4), port: 9735 }),
    extraTlvs: [{ type: 5n, value: hex('aa') }],
  });
  t.is(toHex(init.subarray(0, 2)), '0010');
  t.is(code(() => decodeMessage(Uint8Array.of(...init.subarray(0, 9), 0x01, 0x21, ...new Array(33).fill(0)))), 'bad-value', 'networks must be whole chain hashes');
  roundTrip(t, { type: 'error', channelId: new Uint8Array(32), data: new TextEncoder().encode('boom') });
  roundTrip(t, { type: 'warning', channelId: new Uint8Array(32).fill(1), data: new Uint8Array(0), trailing: hex('0100') });
  roundTrip(t, { type: 'ping', numPongBytes: 12, ignored: new Uint8Array(4) });
  roundTrip(t, { type: 'pong', ignored: new Uint8Array(12) });
  roundTrip(t, { type: 'peer_storage', blob: hex('0102') });
  t.is(code(() => decodeMessage(hex('0012000a0005aabb'))), 'truncated', 'ping ignored longer than the message');
  t.is(code(() => encodeMessage({ type: 'pong', ignored: new Uint8Array(65534) })), 'too-long');
});

test('gossip queries and announcement_signatures round-trip', (t) => {
  roundTrip(t, { type: 'gossip_timestamp_filter', chainHash: chain, firstTimestamp: 0, timestampRange: 0xffffffff });
  roundTrip(t, { type: 'query_channel_range', chainHash: chain, firstBlocknum: 0, numberOfBlocks: 0xffffffff, queryOption: 3n });
  roundTrip(t, { type: 'reply_short_channel_ids_end', chainHash: chain, fullInformation: 1 });
  const ids = [scidFromString('800000x1x0'), scidFromString('800001x2x1')];
  roundTrip(t, {
    type: 'reply_channel_range',
    chainHash: chain,
    firstBlocknum: 800000,
    numberOfBlocks: 10,
    syncComplete: 1,
    shortChannelIds: { encoding: 0, values: ids },
    timestamps: { encoding: 0, values: [{ timestamp1: 1, timestamp2: 2 }, { timestamp1: 3, timestamp2: 0 }] },
    checksums: [{ checksum1: 5, checksum2: 6 }, { checksum1: 7, checksum2: 0 }],
    extraTlvs: [{ type: 7n, value: hex('00') }],
  });
  roundTrip(t, { type: 'query_short_channel_ids', chainHash: chain, shortChannelIds: { encoding: 0, values: ids }, queryFlags: { encoding: 0, values: [1, 0x1f] } });
  roundTrip(t, {
    type: 'announcement_signatures',
    channelId: new Uint8Array(32).fill(4),
    shortChannelId: ids[0]!,
    nodeSignature: new Uint8Array(64).fill(5),
    bitcoinSignature: new Uint8Array(64).fill(6),
  });
  // encoded_short_ids problems
  const qsci = (body: string) => hex(`0105${toHex(chain)}${body}`);
  t.is(code(() => decodeMessage(qsci('000a' + '00' + '0000000000000001'))), 'truncated');
  t.is(code(() => decodeMessage(qsci('0008' + '00' + '00000000000001'))), 'bad-value', 'not whole ids');
  t.is(code(() => decodeMessage(qsci('0001' + '02'))), 'bad-value', 'unknown encoding');
  t.is(code(() => decodeMessage(qsci('0000'))), 'truncated', 'no encoding byte');
  t.is(code(() => decodeMessage(qsci('0003' + '01ffff'))), 'bad-value', 'bad zlib');
  const bomb = new Uint8Array(deflateSync(new Uint8Array(MAX_INFLATED_BYTES + 8)));
  t.true(bomb.length < 65000);
  t.is(code(() => decodeMessage(qsci(toHex(Uint8Array.of(0, 0)).slice(0, 0) + (bomb.length + 1).toString(16).padStart(4, '0') + '01' + toHex(bomb)))), 'bad-value', 'zlib bomb bounded');
  t.is(code(() => decodeMessage(qsci('0001' + '00' + '0200'))), 'unknown-even-tlv');
});

test('channel messages: recognised, channel id exposed, carried raw', (t) => {
  const cid = new Uint8Array(32).fill(0xab);
  const commit = hex(`0084${toHex(cid)}${'11'.repeat(64)}0000`);
  const m = decodeMessage(commit);
  t.is(m.type, 'commitment_signed');
  if (m.type !== 'commitment_signed') return;
  t.deepEqual(m.channelId, cid);
  t.deepEqual(encodeMessage(m), commit);
  const open = hex(`0020${toHex(chain)}${toHex(cid)}${'00'.repeat(200)}`);
  const o = decodeMessage(open);
  t.is(o.type, 'open_channel');
  t.deepEqual((o as { channelId: Uint8Array }).channelId, cid, 'temporary_channel_id after chain_hash');
  t.is(code(() => decodeMessage(hex('0084abab'))), 'truncated');
  const stfu = decodeMessage(hex(`0002${toHex(cid)}01`));
  t.is(stfu.type, 'stfu');
  t.true(isChannelMessage(2) && isChannelMessage(132) && isChannelMessage(259) && isChannelMessage(74));
  t.false(isChannelMessage(258) || isChannelMessage(16));
  t.true(isGossipMessage(256) && isGossipMessage(258) && isGossipMessage(265));
  t.false(isGossipMessage(259) || isGossipMessage(132) || isGossipMessage(18));
  t.is(messageTypeName(258), 'channel_update');
  t.is(messageTypeName(136), 'channel_reestablish');
  t.is(messageTypeName(40000), 'unknown_40000');
});

test('unknown types: odd kept raw, even rejected', (t) => {
  const odd = hex('80010203');
  const m = decodeMessage(odd);
  t.deepEqual(m, { type: 'unknown', wireType: 0x8001, payload: hex('0203') });
  t.deepEqual(encodeMessage(m), odd);
  t.is(code(() => decodeMessage(hex('80020203'))), 'unknown-even-type');
  t.is(code(() => decodeMessage(hex('002a'))), 'unknown-even-type', 'type 42 is unassigned');
  t.is(code(() => decodeMessage(hex('00'))), 'truncated');
  t.is(code(() => decodeMessage(new Uint8Array(65536).fill(1))), 'too-long');
  t.is(decodeMessage(hex('0201aabb')).type, 'unknown', 'onion_message (513) passes as an odd unknown');
});

test('short_channel_id helpers', (t) => {
  const s = scidFromParts(800000, 1, 0);
  t.is(s, (800000n << 40n) | (1n << 16n));
  t.is(scidToString(s), '800000x1x0');
  t.is(scidFromString('800000x1x0'), s);
  t.deepEqual(scidToParts(scidFromString('16777215x16777215x65535')), { block: 0xffffff, txIndex: 0xffffff, outputIndex: 0xffff });
  t.is(code(() => scidFromString('16777216x0x0')), 'bad-value');
  t.is(code(() => scidFromString('1x2')), 'bad-value');
  t.is(code(() => scidFromParts(1, 2, 65536)), 'bad-value');
});

test('TLV encoding refuses unordered or duplicate records', (t) => {
  t.is(toHex(encodeTlvStream([{ type: 1n, value: hex('aa') }, { type: 0x10000n, value: new Uint8Array(0) }])), '0101aafe0001000000');
  t.is(code(() => encodeTlvStream([{ type: 3n, value: hex('') }, { type: 1n, value: hex('') }])), 'tlv-order');
  t.is(code(() => encodeTlvStream([{ type: 3n, value: hex('') }, { type: 3n, value: hex('') }])), 'tlv-order');
});

test('.gossip records: reader, writer, stream and typed truncation errors', async (t) => {
  const recs = [hex('0102'), hex(''), hex('ffeeddcc')];
  const file = writeGossipRecords(recs);
  t.is(toHex(file), '000201020000' + '0004ffeeddcc');
  t.deepEqual([...readGossipRecords(file)], recs);
  const got: Uint8Array[] = [];
  t.is(
    code(() => {
      for (const r of readGossipRecords(file.subarray(0, file.length - 1))) got.push(r);
    }),
    'truncated',
  );
  t.is(got.length, 2, 'complete records before the truncation are yielded');
  t.is(code(() => [...readGossipRecords(hex('00'))]), 'truncated');
  async function* chunks(b: Uint8Array, size: number) {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
  }
  const streamed: Uint8Array[] = [];
  for await (const r of streamGossipRecords(chunks(file, 3))) streamed.push(r);
  t.deepEqual(streamed, recs);
  await t.throwsAsync(async () => {
    for await (const _ of streamGossipRecords(chunks(file.subarray(0, 9), 2))) void _;
  }, { instanceOf: WireError });
});
