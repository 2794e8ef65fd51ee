// PROXY v2 headers for the built-in balancer's hot path. A header differs between two connections
// of the same (source address, destination address, destination port) only in the source port, so
// the validated encoding is built once per such shape and each connection copies it and patches
// two bytes. The copy can reserve room behind the header for the client's first bytes, so header
// and data leave in one write.
import { encodeProxyV2, normalizeAddress, type ProxyTlv } from './proxy-v2.js';
import net from 'node:net';

/** Shapes remembered at most; past that the cache starts over (a flood of sources cannot grow it). */
const MAX_SHAPES = 4_096;

interface Template {
  bytes: Buffer;
  /** Offset of the 2-byte source port inside `bytes`. */
  sourcePortAt: number;
}

export class ProxyHeaderCache {
  private readonly templates = new Map<string, Template | null>();

  constructor(private readonly tlvs: readonly ProxyTlv[]) {}

  /**
   * The header for one connection followed by `trailer` (the client's first bytes, may be empty),
   * or null when an address cannot be described (the caller then sends an UNSPEC header).
   */
  encode(sourceAddress: string, sourcePort: number, destinationAddress: string, destinationPort: number, trailer: Buffer | null): Buffer | null {
    const key = `${sourceAddress}|${destinationAddress}|${destinationPort}`;
    let template = this.templates.get(key);
    if (template === undefined) {
      template = buildTemplate(sourceAddress, destinationAddress, destinationPort, this.tlvs);
      if (this.templates.size >= MAX_SHAPES) this.templates.clear();
      this.templates.set(key, template);
    }
    if (!template || !Number.isInteger(sourcePort) || sourcePort < 0 || sourcePort > 0xffff) return null;
    const length = template.bytes.length;
    const out = Buffer.allocUnsafe(length + (trailer ? trailer.length : 0));
    template.bytes.copy(out, 0);
    out[template.sourcePortAt] = sourcePort >> 8;
    out[template.sourcePortAt + 1] = sourcePort & 0xff;
    if (trailer) trailer.copy(out, length);
    return out;
  }

  /** A PROXY header without addresses (family UNSPEC), for a client whose addresses are unknown. */
  unspecified(trailer: Buffer | null): Buffer {
    const header = Buffer.from(encodeProxyV2({ command: 'proxy', address: null, tlvs: this.tlvs }));
    return trailer ? Buffer.concat([header, trailer]) : header;
  }
}

function buildTemplate(sourceAddress: string, destinationAddress: string, destinationPort: number, tlvs: readonly ProxyTlv[]): Template | null {
  const src = normalizeAddress(sourceAddress);
  const dst = normalizeAddress(destinationAddress);
  if (!net.isIP(src) || !net.isIP(dst)) return null;
  const family = net.isIPv4(src) && net.isIPv4(dst) ? 'tcp4' : 'tcp6';
  let bytes: Uint8Array;
  try {
    bytes = encodeProxyV2({ command: 'proxy', address: { family, sourceAddress: src, sourcePort: 0, destinationAddress: dst, destinationPort }, tlvs });
  } catch {
    return null;
  }
  // Fixed part (16 bytes), then the two addresses (4 or 16 bytes each), then the source port.
  return { bytes: Buffer.from(bytes), sourcePortAt: family === 'tcp4' ? 16 + 8 : 16 + 32 };
}
