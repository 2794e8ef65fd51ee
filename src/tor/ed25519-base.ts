/**
 * Ed25519 public key from a raw scalar: public = scalar * B.
 *
 * Tor hands out onion service keys in "expanded" form (the 32-byte clamped scalar, then the 32-byte
 * nonce prefix), not as the seed node:crypto needs, and no installed library multiplies the base point by
 * a raw scalar (@noble/curves is not a dependency). This is the textbook RFC 8032 arithmetic in
 * extended coordinates with BigInt: not constant time, so it is only used to derive the public onion
 * address of a key the process already holds, never in a protocol exchange with a peer.
 */

const P = 2n ** 255n - 19n;
const D = mod(-121665n * invert(121666n));
const BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;

interface ExtendedPoint {
  x: bigint;
  y: bigint;
  z: bigint;
  t: bigint;
}

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function powMod(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function invert(a: bigint): bigint {
  return powMod(a, P - 2n);
}

/** Unified addition for a = -1 twisted Edwards curves (add-2008-hwcd-3); also correct for doubling. */
function add(p: ExtendedPoint, q: ExtendedPoint): ExtendedPoint {
  const a = mod((p.y - p.x) * (q.y - q.x));
  const b = mod((p.y + p.x) * (q.y + q.x));
  const c = mod(p.t * 2n * D * q.t);
  const d = mod(p.z * 2n * q.z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { x: mod(e * f), y: mod(g * h), z: mod(f * g), t: mod(e * h) };
}

/** 32-byte compressed Ed25519 point of scalar * B; the scalar is read little-endian (RFC 8032). */
export function ed25519PublicKeyFromScalar(scalar32: Uint8Array): Uint8Array {
  if (!(scalar32 instanceof Uint8Array) || scalar32.length !== 32) throw new RangeError('scalar must be 32 bytes');
  let k = 0n;
  for (let i = 31; i >= 0; i--) k = (k << 8n) | BigInt(scalar32[i]!);
  let result: ExtendedPoint = { x: 0n, y: 1n, z: 1n, t: 0n };
  let addend: ExtendedPoint = { x: BASE_X, y: BASE_Y, z: 1n, t: mod(BASE_X * BASE_Y) };
  while (k > 0n) {
    if (k & 1n) result = add(result, addend);
    addend = add(addend, addend);
    k >>= 1n;
  }
  const zInv = invert(result.z);
  const x = mod(result.x * zInv);
  let y = mod(result.y * zInv);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  if (x & 1n) out[31]! |= 0x80;
  return out;
}
