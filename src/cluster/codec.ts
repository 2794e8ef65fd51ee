import { ClusterProtocolError } from './errors.js';

/** Minimal big-endian writer/reader for link message payloads. Reader failures are 'malformed' errors. */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export class PayloadWriter {
  private parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }

  private fixed(size: number, write: (view: DataView) => void): this {
    const bytes = new Uint8Array(size);
    write(new DataView(bytes.buffer));
    return this.push(bytes);
  }

  u8(value: number): this {
    checkUint(value, 0xff, 'u8');
    return this.fixed(1, (view) => view.setUint8(0, value));
  }

  u16(value: number): this {
    checkUint(value, 0xffff, 'u16');
    return this.fixed(2, (view) => view.setUint16(0, value));
  }

  u32(value: number): this {
    checkUint(value, 0xffffffff, 'u32');
    return this.fixed(4, (view) => view.setUint32(0, value));
  }

  /** u64 on the wire; limited to safe integers in JS. */
  u64(value: number): this {
    checkUint(value, Number.MAX_SAFE_INTEGER, 'u64');
    return this.fixed(8, (view) => view.setBigUint64(0, BigInt(value)));
  }

  f64(value: number): this {
    if (!Number.isFinite(value)) throw new RangeError(`${value} is not a finite number`);
    return this.fixed(8, (view) => view.setFloat64(0, value));
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  /** Exactly `length` bytes. */
  fixedBytes(bytes: Uint8Array, length: number, what: string): this {
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
      throw new RangeError(`${what} must be ${length} bytes`);
    }
    return this.push(bytes);
  }

  /** u16 length + bytes. */
  bytes16(bytes: Uint8Array): this {
    return this.u16(bytes.length).push(bytes);
  }

  /** u32 length + bytes. */
  bytes32(bytes: Uint8Array): this {
    return this.u32(bytes.length).push(bytes);
  }

  /** u16 length + UTF-8. */
  string16(value: string): this {
    return this.bytes16(utf8Encoder.encode(value));
  }

  /** u32 length + UTF-8. */
  string32(value: string): this {
    return this.bytes32(utf8Encoder.encode(value));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${value} is not a valid ${what}`);
}

export class PayloadReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(reason: string): never {
    throw new ClusterProtocolError('malformed', `${this.what}: ${reason}`);
  }

  private need(size: number): number {
    if (this.remaining < size) this.fail(`truncated (needed ${size} more bytes at offset ${this.offset})`);
    const at = this.offset;
    this.offset += size;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }

  u16(): number {
    return this.view.getUint16(this.need(2));
  }

  u32(): number {
    return this.view.getUint32(this.need(4));
  }

  u64(): number {
    const value = this.view.getBigUint64(this.need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`u64 ${value} exceeds the safe integer range`);
    return Number(value);
  }

  f64(): number {
    const value = this.view.getFloat64(this.need(8));
    if (!Number.isFinite(value)) this.fail('non-finite number');
    return value;
  }

  bool(): boolean {
    const value = this.u8();
    if (value > 1) this.fail(`boolean byte ${value}`);
    return value === 1;
  }

  /** A copy, so a long-lived message does not pin the socket's receive buffer. */
  fixedBytes(length: number): Uint8Array {
    const at = this.need(length);
    // Not `slice`: on a Buffer (socket data) it returns a view, not a copy.
    const copy = new Uint8Array(length);
    copy.set(this.bytes.subarray(at, at + length));
    return copy;
  }

  bytes16(): Uint8Array {
    return this.fixedBytes(this.u16());
  }

  bytes32(): Uint8Array {
    return this.fixedBytes(this.u32());
  }

  private utf8(bytes: Uint8Array): string {
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      return this.fail('invalid UTF-8');
    }
  }

  string16(): string {
    return this.utf8(this.bytes16());
  }

  string32(): string {
    return this.utf8(this.bytes32());
  }

  /** Strict messages must be consumed exactly. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }
}
