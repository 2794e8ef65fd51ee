/** The ChaCha20-Poly1305 nonce of BOLT 8: 32 zero bits followed by the 64-bit counter, little-endian. */
export function encodeNonce(counter: number, out: Uint8Array = new Uint8Array(12)): Uint8Array {
  const view = new DataView(out.buffer, out.byteOffset, 12);
  view.setUint32(0, 0, true);
  view.setUint32(4, counter >>> 0, true);
  view.setUint32(8, Math.floor(counter / 0x1_0000_0000), true);
  return out;
}
