/**
 * Just enough Bitcoin serialization for the engine: split a block into its header and transactions
 * (LDK's per-monitor sync wants `(index, tx)` pairs), hash headers and transactions.
 */
import { createHash } from 'node:crypto';
import { ChannelEngineError } from './errors.js';

export const HEADER_LENGTH = 80;

export function sha256d(data: Uint8Array): Uint8Array {
  const once = createHash('sha256').update(data).digest();
  return new Uint8Array(createHash('sha256').update(once).digest());
}

/** Block hash in internal byte order (as in headers and LDK). */
export function blockHash(header: Uint8Array): Uint8Array {
  return sha256d(header.subarray(0, HEADER_LENGTH));
}

export interface ParsedBlock {
  header: Uint8Array;
  /** Transactions with their position in the block. */
  txs: Array<{ index: number; tx: Uint8Array }>;
}

class Reader {
  off = 0;
  constructor(readonly buf: Uint8Array) {}
  need(n: number): void {
    if (n < 0 || this.off + n > this.buf.length) throw new ChannelEngineError('chain-error', 'block: truncated');
  }
  skip(n: number): void {
    this.need(n);
    this.off += n;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  varint(): number {
    const first = this.u8();
    if (first < 0xfd) return first;
    const len = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    this.need(len);
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + this.buf[this.off + i]!;
    this.off += len;
    if (!Number.isSafeInteger(v) || v > this.buf.length) throw new ChannelEngineError('chain-error', 'block: absurd length');
    return v;
  }
}

function skipTransaction(r: Reader): void {
  r.skip(4); // version
  let inputs = r.varint();
  let segwit = false;
  if (inputs === 0) {
    if (r.u8() !== 1) throw new ChannelEngineError('chain-error', 'block: bad segwit flag');
    segwit = true;
    inputs = r.varint();
  }
  for (let i = 0; i < inputs; i++) {
    r.skip(36);
    r.skip(r.varint());
    r.skip(4);
  }
  const outputs = r.varint();
  for (let i = 0; i < outputs; i++) {
    r.skip(8);
    r.skip(r.varint());
  }
  if (segwit) {
    for (let i = 0; i < inputs; i++) {
      const items = r.varint();
      for (let j = 0; j < items; j++) r.skip(r.varint());
    }
  }
  r.skip(4); // lock time
}

export function parseBlock(block: Uint8Array): ParsedBlock {
  const r = new Reader(block);
  r.skip(HEADER_LENGTH);
  const count = r.varint();
  const txs: ParsedBlock['txs'] = [];
  for (let index = 0; index < count; index++) {
    const start = r.off;
    skipTransaction(r);
    txs.push({ index, tx: block.subarray(start, r.off) });
  }
  if (r.off !== block.length) throw new ChannelEngineError('chain-error', 'block: trailing bytes');
  return { header: block.subarray(0, HEADER_LENGTH), txs };
}

export function encodeVarint(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  new DataView(out.buffer).setUint32(1, n, true);
  return out;
}

export function serializeBlock(header: Uint8Array, txs: Uint8Array[]): Uint8Array {
  const parts = [header.subarray(0, HEADER_LENGTH), encodeVarint(txs.length), ...txs];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
