import { WireError } from './errors.js';
import { ByteReader, decodeTruncated } from './reader.js';
export { encodeBigSize, encodeTruncated } from './writer.js';

/** Decodes exactly one BigSize filling all of `bytes` (extra bytes are an error). */
export function decodeBigSize(bytes: Uint8Array): bigint {
  const r = new ByteReader(bytes);
  const v = r.bigSize();
  if (!r.done) throw new WireError('bad-value', `${r.remaining} bytes after bigsize`);
  return v;
}

/** Decodes a tu16/tu32/tu64 that fills `bytes`. */
export function decodeTu(bytes: Uint8Array, maxBytes: 2 | 4 | 8): bigint {
  if (bytes.length > maxBytes) throw new WireError('bad-value', `tu${maxBytes * 8} longer than ${maxBytes} bytes`);
  return decodeTruncated(bytes, `tu${maxBytes * 8}`);
}
