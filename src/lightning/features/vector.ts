import { FeatureError } from './errors.js';
import { featureByBit, requireFeature } from './known.js';

/**
 * A feature vector on the wire: big-endian bytes, bit 0 is the least significant bit of the LAST byte
 * (BOLT 1). We keep vectors as Uint8Array (what the wire carries) and offer bit-level helpers.
 */
export type FeatureBytes = Uint8Array;
export type FeatureSupport = 'required' | 'optional';

/** Largest bit a u16-length feature field can hold. */
export const MAX_FEATURE_BIT = 0xffff * 8 - 1;

function checkBit(bit: number): void {
  if (!Number.isInteger(bit) || bit < 0 || bit > MAX_FEATURE_BIT) throw new FeatureError('bad-bit', `feature bit out of range: ${bit}`, bit);
}

export function hasFeatureBit(features: FeatureBytes, bit: number): boolean {
  const byte = features.length - 1 - (bit >> 3);
  return byte >= 0 && (features[byte]! & (1 << (bit & 7))) !== 0;
}

/** Every set bit, ascending. */
export function parseFeatures(features: FeatureBytes): number[] {
  const bits: number[] = [];
  for (let i = features.length - 1; i >= 0; i--) {
    const b = features[i]!;
    if (b === 0) continue;
    const base = (features.length - 1 - i) * 8;
    for (let k = 0; k < 8; k++) if (b & (1 << k)) bits.push(base + k);
  }
  return bits;
}

/** Bits to the minimal big-endian vector (no leading zero bytes; no bits => empty). */
export function serializeFeatures(bits: Iterable<number>): FeatureBytes {
  const list = [...bits];
  let max = -1;
  for (const b of list) {
    checkBit(b);
    if (b > max) max = b;
  }
  const out = new Uint8Array(max < 0 ? 0 : (max >> 3) + 1);
  for (const b of list) out[out.length - 1 - (b >> 3)]! |= 1 << (b & 7);
  return out;
}

/** The same vector without leading zero bytes. */
export function minimalFeatures(features: FeatureBytes): FeatureBytes {
  let i = 0;
  while (i < features.length && features[i] === 0) i++;
  return features.slice(i);
}

/** Bitwise OR (BOLT 1: `init` globalfeatures and features are combined into one map). */
export function combineFeatures(a: FeatureBytes, b: FeatureBytes): FeatureBytes {
  const n = Math.max(a.length, b.length);
  const out = new Uint8Array(n);
  out.set(a, n - a.length);
  for (let i = 0; i < b.length; i++) out[n - b.length + i]! |= b[i]!;
  return minimalFeatures(out);
}

export function setFeatureBit(features: FeatureBytes, bit: number, on = true): FeatureBytes {
  checkBit(bit);
  const bits = new Set(parseFeatures(features));
  if (on) bits.add(bit);
  else bits.delete(bit);
  return serializeFeatures(bits);
}

/** How a pair of bits is set: both set counts as required (BOLT 9, receiving node). */
export function pairSupport(features: FeatureBytes, evenBit: number): FeatureSupport | undefined {
  if (hasFeatureBit(features, evenBit)) return 'required';
  if (hasFeatureBit(features, evenBit + 1)) return 'optional';
  return undefined;
}

/** Support for a named feature in a vector. */
export function featureSupport(features: FeatureBytes, name: string): FeatureSupport | undefined {
  return pairSupport(features, requireFeature(name).bit);
}

/** Sets a named feature as optional (odd bit) or required (even bit), clearing the other bit of the pair. */
export function setFeature(features: FeatureBytes, name: string, support: FeatureSupport): FeatureBytes {
  const f = requireFeature(name);
  const bits = new Set(parseFeatures(features));
  bits.delete(f.bit);
  bits.delete(f.bit + 1);
  bits.add(support === 'required' ? f.bit : f.bit + 1);
  return serializeFeatures(bits);
}

export function clearFeature(features: FeatureBytes, name: string): FeatureBytes {
  const f = requireFeature(name);
  const bits = new Set(parseFeatures(features));
  bits.delete(f.bit);
  bits.delete(f.bit + 1);
  return serializeFeatures(bits);
}

/**
 * Builds a vector from names: `'gossip_queries'` (optional) or `['var_onion_optin', 'required']`.
 * Names may omit the `option_` prefix.
 */
export function featuresFromNames(entries: Iterable<string | readonly [string, FeatureSupport]>, defaultSupport: FeatureSupport = 'optional'): FeatureBytes {
  let out: FeatureBytes = new Uint8Array(0);
  for (const e of entries) {
    const [name, support] = typeof e === 'string' ? [e, defaultSupport] : e;
    out = setFeature(out, name, support);
  }
  return out;
}

export interface DescribedBit {
  readonly bit: number;
  readonly name?: string;
  readonly required: boolean;
}

/** Every set bit with its name (if assigned): for logs and operator views. */
export function describeFeatures(features: FeatureBytes): DescribedBit[] {
  return parseFeatures(features).map((bit) => {
    const name = featureByBit(bit)?.name;
    return name ? { bit, name, required: (bit & 1) === 0 } : { bit, required: (bit & 1) === 0 };
  });
}

/** Names of the known features a vector sets, e.g. ['option_data_loss_protect', ...]. */
export function featureNames(features: FeatureBytes): string[] {
  const names: string[] = [];
  for (const bit of parseFeatures(features)) {
    const n = featureByBit(bit)?.name;
    if (n && !names.includes(n)) names.push(n);
  }
  return names;
}
