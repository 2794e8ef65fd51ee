import { WireError } from './errors.js';

/**
 * Records of a `.gossip` file: `u16 length (big-endian) || message`, no header. Yields zero-copy views
 * into `bytes`; copy (or decode, which copies) before reusing the buffer. Throws WireError('truncated')
 * when a length prefix or a message runs past the end, after yielding every complete record before it.
 */
export function* readGossipRecords(bytes: Uint8Array): Generator<Uint8Array, void, undefined> {
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < 2) throw new WireError('truncated', `gossip record length truncated at offset ${pos}`);
    const len = (bytes[pos]! << 8) | bytes[pos + 1]!;
    pos += 2;
    if (bytes.length - pos < len) throw new WireError('truncated', `gossip record at offset ${pos - 2} needs ${len} bytes, ${bytes.length - pos} left`);
    yield bytes.subarray(pos, pos + len);
    pos += len;
  }
}

/**
 * Streams records from chunks (e.g. a file read stream) without loading the whole file: keeps at most one
 * partial record (< 64 KiB) between chunks. Throws WireError('truncated') if the input ends mid-record.
 */
export async function* streamGossipRecords(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  let pending: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    let buf: Uint8Array;
    if (pending.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(pending.length + chunk.length);
      buf.set(pending);
      buf.set(chunk, pending.length);
    }
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos]! << 8) | buf[pos + 1]!;
      if (buf.length - pos - 2 < len) break;
      yield buf.slice(pos + 2, pos + 2 + len);
      pos += 2 + len;
    }
    pending = buf.slice(pos);
  }
  if (pending.length > 0) throw new WireError('truncated', `gossip stream ends inside a record (${pending.length} bytes left)`);
}

/** Encodes messages as `.gossip` records. */
export function writeGossipRecords(messages: Iterable<Uint8Array>): Uint8Array {
  const list = [...messages];
  let total = 0;
  for (const m of list) {
    if (m.length > 0xffff) throw new WireError('too-long', `gossip record of ${m.length} bytes`);
    total += 2 + m.length;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const m of list) {
    out[pos] = m.length >> 8;
    out[pos + 1] = m.length & 0xff;
    out.set(m, pos + 2);
    pos += 2 + m.length;
  }
  return out;
}
