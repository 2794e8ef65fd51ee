import { WireError } from './errors.js';

const U64_MAX = (1n << 64n) - 1n;

/** Growable big-endian writer. Validates ranges so a bad field value fails at encode time, typed. */
export class ByteWriter {
  private buf: Uint8Array;
  private dv: DataView;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.dv = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  private checkInt(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new WireError('bad-value', `${what} out of range: ${v}`);
  }

  u8(v: number, what = 'u8'): this {
    this.checkInt(v, 0xff, what);
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  u16(v: number, what = 'u16'): this {
    this.checkInt(v, 0xffff, what);
    this.ensure(2);
    this.dv.setUint16(this.len, v);
    this.len += 2;
    return this;
  }

  u32(v: number, what = 'u32'): this {
    this.checkInt(v, 0xffffffff, what);
    this.ensure(4);
    this.dv.setUint32(this.len, v);
    this.len += 4;
    return this;
  }

  u64(v: bigint, what = 'u64'): this {
    if (v < 0n || v > U64_MAX) throw new WireError('bad-value', `${what} out of range: ${v}`);
    this.ensure(8);
    this.dv.setBigUint64(this.len, v);
    this.len += 8;
    return this;
  }

  s8(v: number, what = 's8'): this {
    if (!Number.isInteger(v) || v < -0x80 || v > 0x7f) throw new WireError('bad-value', `${what} out of range: ${v}`);
    this.ensure(1);
    this.dv.setInt8(this.len++, v);
    return this;
  }

  s16(v: number, what = 's16'): this {
    if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) throw new WireError('bad-value', `${what} out of range: ${v}`);
    this.ensure(2);
    this.dv.setInt16(this.len, v);
    this.len += 2;
    return this;
  }

  s32(v: number, what = 's32'): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new WireError('bad-value', `${what} out of range: ${v}`);
    this.ensure(4);
    this.dv.setInt32(this.len, v);
    this.len += 4;
    return this;
  }

  s64(v: bigint, what = 's64'): this {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new WireError('bad-value', `${what} out of range: ${v}`);
    this.ensure(8);
    this.dv.setBigInt64(this.len, v);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** Exactly n bytes: guards fixed-size fields (signatures, points, hashes) at encode time. */
  fixed(b: Uint8Array, n: number, what: string): this {
    if (b.length !== n) throw new WireError('bad-value', `${what} must be ${n} bytes, got ${b.length}`);
    return this.bytes(b);
  }

  /** u16 length prefix then the bytes. */
  u16Bytes(b: Uint8Array, what = 'bytes'): this {
    if (b.length > 0xffff) throw new WireError('too-long', `${what} is ${b.length} bytes, more than a u16 length allows`);
    return this.u16(b.length).bytes(b);
  }

  bigSize(v: bigint | number): this {
    return this.bytes(encodeBigSize(v));
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** BigSize encoding (BOLT 1 appendix A), always minimal. */
export function encodeBigSize(value: bigint | number): Uint8Array {
  const v = typeof value === 'number' ? BigInt(value) : value;
  if (v < 0n || v > U64_MAX) throw new WireError('bad-value', `bigsize out of range: ${v}`);
  if (v < 0xfdn) return Uint8Array.of(Number(v));
  if (v < 0x10000n) {
    const n = Number(v);
    return Uint8Array.of(0xfd, n >> 8, n & 0xff);
  }
  if (v < 0x100000000n) {
    const out = new Uint8Array(5);
    out[0] = 0xfe;
    new DataView(out.buffer).setUint32(1, Number(v));
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = 0xff;
  new DataView(out.buffer).setBigUint64(1, v);
  return out;
}

/** Truncated unsigned integer (tu16/tu32/tu64): big-endian with leading zero bytes removed (0 => empty). */
export function encodeTruncated(value: bigint | number, maxBytes: 2 | 4 | 8): Uint8Array {
  const v = typeof value === 'number' ? BigInt(value) : value;
  if (v < 0n || v >= 1n << BigInt(maxBytes * 8)) throw new WireError('bad-value', `tu${maxBytes * 8} out of range: ${v}`);
  const out: number[] = [];
  let x = v;
  while (x > 0n) {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return Uint8Array.from(out);
}
