/**
 * SHA-256 and HMAC-SHA256 in plain JavaScript, for short inputs.
 *
 * Why it exists: every node:crypto hash or HMAC call pays about 2 µs of fixed cost (a binding call and,
 * for HMAC, a stream object) before hashing a byte, while one SHA-256 block costs about 0.35 µs here.
 * BOLT 8 handshakes (12 HMACs and 5 hashes of 33 to 97 bytes each) and gossip digests (double SHA-256
 * of about 140 bytes) are made of such short inputs: this halves their hashing time. The native provider
 * switches to node:crypto above SHORT_INPUT_LIMIT, where its throughput wins. SHA-256 has no secret-
 * dependent branches or table lookups, so this is as constant-time as the native code.
 *
 * Not re-entrant across calls (module-level scratch state), which is safe: JavaScript runs one call at a
 * time per thread, and nothing here awaits.
 */

/** Inputs up to this many bytes are hashed here; longer ones are faster through node:crypto. */
export const SHORT_INPUT_LIMIT = 512;

const ROUND_CONSTANTS = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL_STATE = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Message schedule, chaining state and the block being compressed: reused by every call. */
const schedule = new Int32Array(64);
const state = new Int32Array(8);
/**
 * Bytes are always copied here before compression: reading input bytes directly would see both Buffers
 * and plain Uint8Arrays, and that polymorphism makes V8's compiled loop about twice as slow.
 */
const block = new Uint8Array(128);

function compress(offset: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const sigma0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const sigma1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + sigma0 + w[i - 7]! + sigma1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const bigSigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + bigSigma1 + (g ^ (e & (f ^ g))) + ROUND_CONSTANTS[i]! + w[i]!) | 0;
    const bigSigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (bigSigma0 + ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Hashes `data` on top of the current `state`, which has already absorbed `absorbed` bytes (0 or 64). */
function absorbAndFinish(data: Uint8Array, absorbed: number): Uint8Array {
  const length = data.length;
  let offset = 0;
  for (; length - offset >= 64; offset += 64) {
    block.set(data.subarray(offset, offset + 64), 0);
    compress(0);
  }
  const rest = length - offset;
  for (let i = 0; i < rest; i++) block[i] = data[offset + i]!;
  block[rest] = 0x80;
  const tailLength = rest + 9 <= 64 ? 64 : 128;
  block.fill(0, rest + 1, tailLength - 8);
  const bits = (length + absorbed) * 8;
  const high = Math.floor(bits / 0x1_0000_0000);
  block[tailLength - 8] = high >>> 24;
  block[tailLength - 7] = high >>> 16;
  block[tailLength - 6] = high >>> 8;
  block[tailLength - 5] = high;
  block[tailLength - 4] = bits >>> 24;
  block[tailLength - 3] = bits >>> 16;
  block[tailLength - 2] = bits >>> 8;
  block[tailLength - 1] = bits;
  compress(0);
  if (tailLength === 128) compress(64);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = state[i]!;
    out[i * 4] = word >>> 24;
    out[i * 4 + 1] = word >>> 16;
    out[i * 4 + 2] = word >>> 8;
    out[i * 4 + 3] = word;
  }
  return out;
}

/** SHA-256 of `data`. Any length is correct; it is only fast below SHORT_INPUT_LIMIT. */
export function sha256Short(data: Uint8Array): Uint8Array {
  state.set(INITIAL_STATE);
  return absorbAndFinish(data, 0);
}

/** Absorbs the 64-byte HMAC pad block of `key` (already at most 64 bytes) XORed with `pad`. */
function absorbKeyBlock(key: Uint8Array, pad: number): void {
  const keyLength = key.length;
  for (let i = 0; i < 64; i++) block[i] = (i < keyLength ? key[i]! : 0) ^ pad;
  state.set(INITIAL_STATE);
  compress(0);
}

/** HMAC-SHA256 (RFC 2104) of `data` under `key`. */
export function hmacSha256Short(key: Uint8Array, data: Uint8Array): Uint8Array {
  const blockKey = key.length > 64 ? sha256Short(key) : key;
  absorbKeyBlock(blockKey, 0x36);
  const inner = absorbAndFinish(data, 64);
  absorbKeyBlock(blockKey, 0x5c);
  return absorbAndFinish(inner, 64);
}
