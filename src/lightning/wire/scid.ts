import { WireError } from './errors.js';

/** A short_channel_id (BOLT 7): block height (3 bytes) || tx index (3 bytes) || output index (2 bytes), as a u64. */
export type ShortChannelId = bigint;

export interface ScidParts {
  readonly block: number;
  readonly txIndex: number;
  readonly outputIndex: number;
}

export function scidFromParts(block: number, txIndex: number, outputIndex: number): ShortChannelId {
  const ok = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (!ok(block, 0xffffff) || !ok(txIndex, 0xffffff) || !ok(outputIndex, 0xffff)) {
    throw new WireError('bad-value', `short_channel_id parts out of range: ${block}x${txIndex}x${outputIndex}`);
  }
  return (BigInt(block) << 40n) | (BigInt(txIndex) << 16n) | BigInt(outputIndex);
}

export function scidToParts(scid: ShortChannelId): ScidParts {
  if (scid < 0n || scid >= 1n << 64n) throw new WireError('bad-value', `short_channel_id out of range: ${scid}`);
  return {
    block: Number(scid >> 40n),
    txIndex: Number((scid >> 16n) & 0xffffffn),
    outputIndex: Number(scid & 0xffffn),
  };
}

/** "800000x1x0" */
export function scidToString(scid: ShortChannelId): string {
  const p = scidToParts(scid);
  return `${p.block}x${p.txIndex}x${p.outputIndex}`;
}

const SCID_RE = /^(\d{1,8})x(\d{1,8})x(\d{1,5})$/;

export function scidFromString(s: string): ShortChannelId {
  const m = SCID_RE.exec(s);
  if (!m) throw new WireError('bad-value', `not a short_channel_id string: ${JSON.stringify(s)}`);
  return scidFromParts(Number(m[1]), Number(m[2]), Number(m[3]));
}

export function scidBlockHeight(scid: ShortChannelId): number {
  return Number(scid >> 40n);
}
