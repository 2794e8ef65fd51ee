import { createHash } from 'node:crypto';
import type { ShortChannelId } from '../../lightning/wire/index.js';

/**
 * The on-chain side of channel_announcement validation (BOLT 7): the short_channel_id's output must be an
 * unspent P2WSH of the 2-of-2 multisig of bitcoin_key_1/2 (BOLT 3) with enough confirmations.
 */
export interface FundingQuery {
  readonly scid: ShortChannelId;
  readonly bitcoinKey1: Uint8Array;
  readonly bitcoinKey2: Uint8Array;
}

export type FundingResult =
  | { readonly ok: true; readonly capacitySat: number; readonly confirmations: number }
  | { readonly ok: false; readonly reason: 'funding-spent' | 'funding-mismatch' | 'funding-unconfirmed' | 'funding-check-failed'; readonly detail: string };

export interface FundingChecker {
  /** Short name for logs ("bitcoind http://127.0.0.1:8332"). */
  readonly description: string;
  /** Never rejects: backend failures come back as `funding-check-failed`. */
  check(query: FundingQuery, signal?: AbortSignal): Promise<FundingResult>;
}

/** BOLT 3 funding witness script: `2 <lesser key> <greater key> 2 OP_CHECKMULTISIG`. */
export function fundingWitnessScript(key1: Uint8Array, key2: Uint8Array): Uint8Array {
  if (key1.length !== 33 || key2.length !== 33) throw new RangeError('funding keys must be 33-byte compressed keys');
  const [a, b] = Buffer.compare(Buffer.from(key1), Buffer.from(key2)) <= 0 ? [key1, key2] : [key2, key1];
  const script = new Uint8Array(71);
  script[0] = 0x52; // OP_2
  script[1] = 33;
  script.set(a, 2);
  script[35] = 33;
  script.set(b, 36);
  script[69] = 0x52; // OP_2
  script[70] = 0xae; // OP_CHECKMULTISIG
  return script;
}

/** The P2WSH scriptPubKey of the funding output: `OP_0 <sha256(witness script)>`. */
export function fundingScriptPubKey(key1: Uint8Array, key2: Uint8Array): Uint8Array {
  const out = new Uint8Array(34);
  out[0] = 0x00;
  out[1] = 32;
  out.set(createHash('sha256').update(fundingWitnessScript(key1, key2)).digest(), 2);
  return out;
}
