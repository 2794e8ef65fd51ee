import { isIPv4, isIPv6 } from 'node:net';
import { WireError } from './errors.js';
import type { NodeAddress } from './address.js';
import { base32Decode } from '../../util/base32.js';

/**
 * The BOLT 7 address descriptor for a host and port as operators write them: an IPv4 or IPv6
 * address, a v3 .onion name, or a DNS hostname. The inverse of addressToString.
 */
export function nodeAddressFromHost(host: string, port: number): NodeAddress {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new WireError('bad-value', `port ${port} out of range`);
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIPv4(bare)) return { type: 'ipv4', addr: Uint8Array.from(bare.split('.').map(Number)), port };
  if (isIPv6(bare)) return { type: 'ipv6', addr: ipv6Bytes(bare), port };
  const onion = /^([a-z2-7]{56})\.onion$/i.exec(bare);
  if (onion) return { type: 'torv3', addr: base32Decode(onion[1]!.toLowerCase())!, port };
  if (!/^[A-Za-z0-9.-]{1,255}$/.test(bare)) throw new WireError('bad-value', `${JSON.stringify(host)} is not an IP address, onion v3 name or hostname`);
  return { type: 'dns', hostname: bare, port };
}

/** "host:port" or "[v6]:port". */
export function nodeAddressFromText(text: string): NodeAddress {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) throw new WireError('bad-value', `${JSON.stringify(text)} is not host:port`);
  return nodeAddressFromHost(text.slice(0, colon), Number(text.slice(colon + 1)));
}

function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = parseInt(group, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  return out;
}
