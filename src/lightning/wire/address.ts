import { WireError } from './errors.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';
import { base32Encode } from '../../util/base32.js';

/** A BOLT 7 `address descriptor` of a known type. */
export type NodeAddress =
  | { readonly type: 'ipv4'; readonly addr: Uint8Array; readonly port: number } // 4 bytes
  | { readonly type: 'ipv6'; readonly addr: Uint8Array; readonly port: number } // 16 bytes
  | { readonly type: 'torv2'; readonly addr: Uint8Array; readonly port: number } // 10 bytes, deprecated
  | { readonly type: 'torv3'; readonly addr: Uint8Array; readonly port: number } // 35 bytes: pubkey||checksum||version
  | { readonly type: 'dns'; readonly hostname: string; readonly port: number }; // ASCII, at most 255 bytes

export const ADDRESS_TYPE_CODES = { ipv4: 1, ipv6: 2, torv2: 3, torv3: 4, dns: 5 } as const;
const FIXED_LEN: Record<number, number> = { 1: 4, 2: 16, 3: 10, 4: 35 };

/** Parsed addresses up to the first unknown or truncated descriptor; `tail` keeps every byte from there on. */
export interface ParsedAddresses {
  readonly addresses: NodeAddress[];
  /** Bytes we cannot parse (unknown type — its length is unknowable — or a truncated descriptor), kept verbatim. */
  readonly tail: Uint8Array;
}

/** Splits node_announcement `addresses` without ever failing: BOLT 7 says to ignore what we cannot read. */
export function parseAddresses(bytes: Uint8Array): ParsedAddresses {
  const addresses: NodeAddress[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const one = tryReadAddress(bytes, pos);
    if (!one) break;
    addresses.push(one.address);
    pos = one.end;
  }
  return { addresses, tail: bytes.slice(pos) };
}

function tryReadAddress(bytes: Uint8Array, pos: number): { address: NodeAddress; end: number } | undefined {
  const code = bytes[pos]!;
  const r = new ByteReader(bytes.subarray(pos + 1));
  try {
    let address: NodeAddress;
    if (code === 5) {
      const n = r.u8();
      const raw = r.view(n);
      address = { type: 'dns', hostname: latin1(raw), port: r.u16() };
    } else {
      const len = FIXED_LEN[code];
      if (len === undefined) return undefined;
      const addr = r.bytes(len);
      const port = r.u16();
      const type = code === 1 ? 'ipv4' : code === 2 ? 'ipv6' : code === 3 ? 'torv2' : 'torv3';
      address = { type, addr, port };
    }
    return { address, end: pos + 1 + r.offset };
  } catch (err) {
    if (err instanceof WireError) return undefined;
    throw err;
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

export function writeAddress(w: ByteWriter, a: NodeAddress): void {
  w.u8(ADDRESS_TYPE_CODES[a.type]);
  if (a.type === 'dns') {
    const n = a.hostname.length;
    if (n > 255) throw new WireError('too-long', `dns hostname of ${n} characters`);
    w.u8(n);
    for (let i = 0; i < n; i++) {
      const c = a.hostname.charCodeAt(i);
      // BOLT 7: hostnames are ASCII; we also accept Latin-1 so that whatever we decoded re-encodes exactly.
      if (c > 0xff) throw new WireError('bad-value', 'dns hostname must be ASCII (Punycode for others)');
      w.u8(c);
    }
  } else {
    w.fixed(a.addr, FIXED_LEN[ADDRESS_TYPE_CODES[a.type]]!, `${a.type} address`);
  }
  w.u16(a.port, 'port');
}

export function encodeAddresses(addresses: readonly NodeAddress[], tail?: Uint8Array): Uint8Array {
  const w = new ByteWriter(64);
  for (const a of addresses) writeAddress(w, a);
  if (tail) w.bytes(tail);
  return w.finish();
}

/** One address descriptor filling `bytes` exactly (e.g. init's `remote_addr`). */
export function decodeAddressDescriptor(bytes: Uint8Array): NodeAddress {
  if (bytes.length === 0) throw new WireError('truncated', 'empty address descriptor');
  const one = tryReadAddress(bytes, 0);
  if (!one) throw new WireError('bad-value', `unknown or truncated address descriptor type ${bytes[0]}`);
  if (one.end !== bytes.length) throw new WireError('bad-value', `${bytes.length - one.end} bytes after address descriptor`);
  return one.address;
}

export function encodeAddressDescriptor(a: NodeAddress): Uint8Array {
  const w = new ByteWriter(64);
  writeAddress(w, a);
  return w.finish();
}

/** "host:port" for display and for dialing: "1.2.3.4:9735", "[2001:db8::1]:9735", "xyz...onion:9735". */
export function addressToString(a: NodeAddress): string {
  switch (a.type) {
    case 'ipv4':
      return `${Array.from(a.addr).join('.')}:${a.port}`;
    case 'ipv6': {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((a.addr[i]! << 8) | a.addr[i + 1]!).toString(16));
      return `[${compressIpv6(groups)}]:${a.port}`;
    }
    case 'torv2':
    case 'torv3':
      return `${base32Encode(a.addr)}.onion:${a.port}`;
    case 'dns':
      return `${a.hostname}:${a.port}`;
  }
}

function compressIpv6(groups: string[]): string {
  // RFC 5952: replace the longest run (>= 2) of zero groups with '::'.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
