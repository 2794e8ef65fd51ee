import type { CipherState } from './cipher-state.js';
import { TransportError } from './errors.js';

/** Largest message BOLT 8 can carry: its length travels as a u16. */
export const MAX_MESSAGE_LENGTH = 65535;
/** Poly1305 tag size. */
export const MAC_LENGTH = 16;
/** Encrypted length prefix: 2-byte length + tag. */
export const FRAME_HEADER_LENGTH = 2 + MAC_LENGTH;
/** Bytes a message of `length` bytes takes on the wire. */
export const frameLength = (length: number): number => FRAME_HEADER_LENGTH + length + MAC_LENGTH;

/**
 * Encrypts one message into one wire frame: `encrypt(len) || encrypt(message)`. Consumes two nonces of
 * the send cipher. A message over 65535 bytes throws TransportError('message-too-large') before any nonce
 * is used, so the session stays usable.
 */
export function encryptFrame(sendCipher: CipherState, message: Uint8Array): Uint8Array {
  if (!(message instanceof Uint8Array)) throw new TransportError('bad-length', 'message must be a Uint8Array');
  if (message.length > MAX_MESSAGE_LENGTH) {
    throw new TransportError('message-too-large', `message of ${message.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  }
  const lengthPrefix = Uint8Array.of(message.length >>> 8, message.length & 0xff);
  const header = sendCipher.encrypt(lengthPrefix);
  const body = sendCipher.encrypt(message);
  const frame = new Uint8Array(header.length + body.length);
  frame.set(header, 0);
  frame.set(body, header.length);
  return frame;
}

/**
 * Turns a byte stream (TCP reads of any size, split or coalesced) back into messages. It keeps at most
 * one incomplete frame (18 + 65535 + 16 bytes at worst): whole frames inside a chunk are decrypted in
 * place. After a failed tag the decoder is dead: the session's nonces can no longer line up.
 */
export class FrameDecoder {
  /** Bytes of the current incomplete header or body; its size is exactly what that part needs. */
  private partial: Uint8Array = new Uint8Array(0);
  private partialFilled = 0;
  /** Length of the body being read, or -1 while reading a header. */
  private bodyLength = -1;
  private failure: TransportError | undefined;

  constructor(private readonly receiveCipher: CipherState) {}

  /** Bytes held for an incomplete frame (for tests of the buffering bound). */
  get bufferedBytes(): number {
    return this.partialFilled;
  }

  /**
   * Feeds bytes; calls `onMessage` for each message they complete, in order, as soon as it is decrypted
   * (so the messages before a bad frame are delivered). Throws TransportError('bad-mac') at the first
   * frame that fails, and on every call after that. Returns how many messages this chunk completed.
   */
  push(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): number {
    if (this.failure) throw this.failure;
    let count = 0;
    const deliver = (message: Uint8Array): void => {
      count++;
      onMessage(message);
    };
    try {
      let offset = 0;
      while (offset < chunk.length) {
        const need = this.partNeed();
        const available = chunk.length - offset;
        if (this.partialFilled === 0 && available >= need) {
          // Whole part inside the chunk: decrypt without copying it first.
          this.consumePart(chunk.subarray(offset, offset + need), deliver);
          offset += need;
          continue;
        }
        if (this.partialFilled === 0) this.reservePartial(need);
        const take = Math.min(need - this.partialFilled, available);
        this.partial.set(chunk.subarray(offset, offset + take), this.partialFilled);
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled === need) {
          const part = this.partial.subarray(0, need);
          this.partialFilled = 0;
          this.consumePart(part, deliver);
        }
      }
    } finally {
      if (this.failure) {
        this.partial = new Uint8Array(0);
        this.partialFilled = 0;
      }
    }
    return count;
  }

  /** push() collecting the messages in an array: for tests and simple callers. */
  pushAll(chunk: Uint8Array): Uint8Array[] {
    const messages: Uint8Array[] = [];
    this.push(chunk, (message) => messages.push(message));
    return messages;
  }

  private partNeed(): number {
    return this.bodyLength < 0 ? FRAME_HEADER_LENGTH : this.bodyLength + MAC_LENGTH;
  }

  private consumePart(part: Uint8Array, deliver: (message: Uint8Array) => void): void {
    const plaintext = this.decrypt(part);
    if (this.bodyLength < 0) {
      this.bodyLength = (plaintext[0]! << 8) | plaintext[1]!;
      return;
    }
    this.bodyLength = -1;
    deliver(plaintext);
  }

  /** Records the failure so that it sticks; errors thrown by `onMessage` pass through untouched. */
  private decrypt(part: Uint8Array): Uint8Array {
    try {
      return this.receiveCipher.decrypt(part);
    } catch (error) {
      this.failure = error instanceof TransportError ? error : new TransportError('bad-mac', 'frame decryption failed', { cause: error });
      throw this.failure;
    }
  }

  /**
   * Sizes the buffer for a part that straddles chunks: grown only when needed, and a large one is
   * dropped once a small part comes, so an idle session does not pin 64 KiB.
   */
  private reservePartial(size: number): void {
    if (this.partial.length < size || (this.partial.length > 4096 && size <= 4096)) {
      this.partial = new Uint8Array(Math.max(size, FRAME_HEADER_LENGTH));
    }
  }
}
