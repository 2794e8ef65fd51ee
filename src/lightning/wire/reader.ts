import { WireError } from './errors.js';

/**
 * Sequential big-endian reader over a Uint8Array. Every read checks the remaining length first, so a
 * hostile length field can never make us allocate or read past the input.
 * `bytes()` returns a copy (decoded messages must not pin or alias the caller's buffer);
 * `view()` returns a zero-copy subarray for callers that consume it at once.
 */
export class ByteReader {
  private readonly dv: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number, what: string): void {
    if (this.buf.length - this.pos < n) {
      throw new WireError('truncated', `truncated ${what}: need ${n} bytes, ${this.buf.length - this.pos} left`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  s8(what = 's8'): number {
    this.need(1, what);
    return this.dv.getInt8(this.pos++);
  }

  s16(what = 's16'): number {
    this.need(2, what);
    const v = this.dv.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  s32(what = 's32'): number {
    this.need(4, what);
    const v = this.dv.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  s64(what = 's64'): bigint {
    this.need(8, what);
    const v = this.dv.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy of the next n bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A zero-copy view of the next n bytes (valid as long as the input is). */
  view(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A copy of everything left. */
  rest(): Uint8Array {
    const out = this.buf.slice(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  /** BigSize (BOLT 1 appendix A): rejects non-minimal encodings. */
  bigSize(what = 'bigsize'): bigint {
    const first = this.u8(what);
    if (first < 0xfd) return BigInt(first);
    if (first === 0xfd) {
      const v = this.u16(what);
      if (v < 0xfd) throw new WireError('non-canonical', `${what}: decoded bigsize is not canonical`);
      return BigInt(v);
    }
    if (first === 0xfe) {
      const v = this.u32(what);
      if (v < 0x10000) throw new WireError('non-canonical', `${what}: decoded bigsize is not canonical`);
      return BigInt(v);
    }
    const v = this.u64(what);
    if (v < 0x100000000n) throw new WireError('non-canonical', `${what}: decoded bigsize is not canonical`);
    return v;
  }

  /** A BigSize that must fit a JS number (lengths, counts); larger values are impossible here. */
  bigSizeNumber(what = 'bigsize'): number {
    const v = this.bigSize(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('too-long', `${what} ${v} is too large`);
    return Number(v);
  }

  /** Truncated unsigned integer of at most maxBytes bytes that fills the rest of the input. */
  truncatedRest(maxBytes: 2 | 4 | 8, what = 'tu'): bigint {
    const n = this.remaining;
    if (n > maxBytes) throw new WireError('bad-value', `${what}: ${n} bytes is longer than ${maxBytes}`);
    const b = this.view(n, what);
    return decodeTruncated(b, what);
  }
}

/** Decodes tu16/tu32/tu64 bytes: leading zero bytes are non-canonical (BOLT 1 fundamental types). */
export function decodeTruncated(b: Uint8Array, what = 'tu'): bigint {
  if (b.length > 0 && b[0] === 0) throw new WireError('non-canonical', `${what}: truncated integer has a leading zero`);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
