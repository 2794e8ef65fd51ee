/**
 * Segwit output script -> address (BIP 173 bech32 for v0, BIP 350 bech32m for v1+), because Bitcoin
 * Core's createrawtransaction takes addresses, while LDK hands us the funding output as a script.
 */
import type { Network } from '../../lightning/chains.js';
import { ChannelEngineError } from './errors.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const HRP: Record<Network, string> = { bitcoin: 'bc', testnet: 'tb', signet: 'tb', regtest: 'bcrt' };

function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function toWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** Address of a segwit output script (`OP_n <2..40 bytes>`). */
export function segwitAddress(script: Uint8Array, network: Network): string {
  const opVersion = script[0];
  const version = opVersion === 0 ? 0 : opVersion !== undefined && opVersion >= 0x51 && opVersion <= 0x60 ? opVersion - 0x50 : -1;
  const program = script.subarray(2);
  if (version < 0 || script[1] !== program.length || program.length < 2 || program.length > 40) {
    throw new ChannelEngineError('bad-input', 'not a segwit output script');
  }
  const hrp = HRP[network];
  const data = [version, ...toWords(program)];
  const constant = version === 0 ? 1 : 0x2bc830a3;
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((d) => CHARSET[d]).join('')}`;
}
