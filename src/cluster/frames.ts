import { ClusterProtocolError } from './errors.js';

/**
 * Framing of the cluster link: `u32 length (big-endian) | u16 type | payload`, where `length` counts the
 * type and the payload. The decoder refuses a length above `maxFrameBytes` as soon as it reads the
 * header, so a hostile or broken peer cannot make us buffer more than one maximum frame.
 */

export const FRAME_HEADER_BYTES = 4;
export const FRAME_TYPE_BYTES = 2;
/** Default largest frame body (type + payload): 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export interface Frame {
  type: number;
  payload: Uint8Array;
}

/** Encodes one frame into a single buffer (one write per frame). */
export function encodeFrame(type: number, payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xffff) throw new RangeError(`frame type ${type} is not a u16`);
  const bodyLength = FRAME_TYPE_BYTES + payload.length;
  if (bodyLength > maxFrameBytes) {
    throw new ClusterProtocolError('frame-too-large', `frame of ${bodyLength} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + bodyLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, bodyLength);
  view.setUint16(FRAME_HEADER_BYTES, type);
  out.set(payload, FRAME_HEADER_BYTES + FRAME_TYPE_BYTES);
  return out;
}

/**
 * Incremental decoder. `push` appends received bytes; `next` returns the next complete frame or undefined.
 * Frames are pulled one by one so a paused reader stops exactly between two frames.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // Check the header as soon as it is complete, before more of an oversized frame accumulates.
    this.peekBodyLength();
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws ClusterProtocolError. */
  next(): Frame | undefined {
    const bodyLength = this.peekBodyLength();
    if (bodyLength === undefined || this.buffered < FRAME_HEADER_BYTES + bodyLength) return undefined;
    const frameBytes = this.take(FRAME_HEADER_BYTES + bodyLength);
    const view = new DataView(frameBytes.buffer, frameBytes.byteOffset, frameBytes.length);
    return { type: view.getUint16(FRAME_HEADER_BYTES), payload: frameBytes.subarray(FRAME_HEADER_BYTES + FRAME_TYPE_BYTES) };
  }

  /** Called at end of stream: leftover bytes mean the peer stopped mid-frame. */
  finish(): void {
    if (this.buffered > 0) {
      throw new ClusterProtocolError('truncated', `stream ended with ${this.buffered} bytes of an incomplete frame`);
    }
  }

  private peekBodyLength(): number | undefined {
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const head = this.peek(FRAME_HEADER_BYTES);
    const bodyLength = new DataView(head.buffer, head.byteOffset, head.length).getUint32(0);
    if (bodyLength > this.maxFrameBytes) {
      throw new ClusterProtocolError('frame-too-large', `peer announced a ${bodyLength}-byte frame, limit is ${this.maxFrameBytes}`);
    }
    if (bodyLength < FRAME_TYPE_BYTES) {
      throw new ClusterProtocolError('frame-too-small', `peer announced a ${bodyLength}-byte frame, too short for its type`);
    }
    return bodyLength;
  }

  private peek(length: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= length) return first.subarray(0, length);
    this.coalesce();
    return this.chunks[0]!.subarray(0, length);
  }

  private take(length: number): Uint8Array {
    let first = this.chunks[0]!;
    if (first.length < length) {
      this.coalesce();
      first = this.chunks[0]!;
    }
    const out = first.subarray(0, length);
    if (first.length === length) this.chunks.shift();
    else this.chunks[0] = first.subarray(length);
    this.buffered -= length;
    return out;
  }

  /** Joins every buffered chunk into one (only when a frame spans chunks). */
  private coalesce(): void {
    const joined = new Uint8Array(this.buffered);
    let offset = 0;
    for (const chunk of this.chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [joined];
  }
}
