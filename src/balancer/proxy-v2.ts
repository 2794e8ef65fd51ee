// PROXY protocol version 2 (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt):
// the balancer writes one binary header at the start of each connection to a front so the front
// learns the peer's real address. Only TCP over IPv4/IPv6 and LOCAL are supported; everything else
// is rejected with a typed error, and reads are bounded so a hostile peer cannot make us buffer more
// than one maximum-size header.
import net from 'node:net';

/** The 12-byte magic that opens every v2 header. */
export const PROXY_V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
/** Signature, version/command, family/protocol, 2-byte length. */
export const PROXY_V2_FIXED_BYTES = 16;
/** Default bound for a whole header (fixed part + addresses + TLVs). The spec allows 16 + 65535. */
export const DEFAULT_MAX_HEADER_BYTES = 16 + 512;

const TCP4_ADDRESS_BYTES = 12;
const TCP6_ADDRESS_BYTES = 36;
const UNIX_ADDRESS_BYTES = 216;

/** Standard TLV types (section 2.2 of the spec). */
export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/**
 * lncluster's custom TLV (0xE0 is the first of the range the spec reserves for applications):
 * the value is a short ASCII word naming where the connection came from ("clearnet", "tor").
 */
export const TLV_TYPE_ORIGIN = 0xe0;
const MAX_ORIGIN_BYTES = 64;

export type ProxyProtocolErrorCode =
  | 'BAD_SIGNATURE'
  | 'BAD_VERSION'
  | 'BAD_COMMAND'
  | 'UNSUPPORTED_FAMILY'
  | 'BAD_LENGTH'
  | 'BAD_TLV'
  | 'BAD_ADDRESS'
  | 'OVERSIZE'
  | 'TRUNCATED'
  | 'TIMEOUT'
  | 'UNTRUSTED_SOURCE'
  | 'MISSING_HEADER';

export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
  constructor(
    readonly code: ProxyProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ProxyTlv {
  type: number;
  value: Uint8Array;
}

export interface ProxyAddress {
  family: 'tcp4' | 'tcp6';
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export interface ProxyHeader {
  /** LOCAL: the proxy speaks for itself (health checks); the socket's own addresses apply. */
  command: 'local' | 'proxy';
  /** null for LOCAL, and for PROXY with an unspecified family (the socket's own addresses apply). */
  address: ProxyAddress | null;
  tlvs: ProxyTlv[];
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Strips the IPv4-mapped IPv6 prefix that dual-stack sockets report ("::ffff:1.2.3.4"). */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && net.isIPv4(lower.slice(7))) return lower.slice(7);
  return address;
}

function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split('.').map((p) => Number(p));
  return Uint8Array.from(parts);
}

/** 16 bytes of an IPv6 address; an IPv4 address becomes its IPv4-mapped form. */
export function ipv6Bytes(address: string): Uint8Array {
  if (net.isIPv4(address)) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(ipv4Bytes(address), 12);
    return out;
  }
  let text = address.split('%')[0]!;
  // A trailing dotted quad ("::ffff:1.2.3.4") is two hex groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = ipv4Bytes(last);
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const halves = text.split('::');
  let groups = parse(halves[0]!);
  if (halves.length === 2) {
    const rest = parse(halves[1]!);
    groups = [...groups, ...new Array<number>(8 - groups.length - rest.length).fill(0), ...rest];
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function formatIpv6(bytes: Uint8Array): string {
  // Let node's URL parser produce the canonical compressed form.
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ProxyProtocolError('BAD_ADDRESS', `${what} port ${port} is not a TCP port`);
  }
}

export interface EncodeProxyHeaderInput {
  command?: 'local' | 'proxy';
  address?: ProxyAddress | null;
  tlvs?: readonly ProxyTlv[];
}

/**
 * Encodes a v2 header. Addresses are validated; an IPv4 address paired with an IPv6 one is sent
 * in its IPv4-mapped form under the tcp6 family, as the spec requires one family per header.
 */
export function encodeProxyV2(input: EncodeProxyHeaderInput): Uint8Array {
  const command = input.command ?? (input.address ? 'proxy' : 'local');
  const tlvs = input.tlvs ?? [];
  let familyByte = 0x00;
  let addressBlock = new Uint8Array(0);
  const address = command === 'proxy' ? input.address : null;
  if (address) {
    const src = normalizeAddress(address.sourceAddress);
    const dst = normalizeAddress(address.destinationAddress);
    if (!net.isIP(src)) throw new ProxyProtocolError('BAD_ADDRESS', `bad source address ${address.sourceAddress}`);
    if (!net.isIP(dst)) throw new ProxyProtocolError('BAD_ADDRESS', `bad destination address ${address.destinationAddress}`);
    checkPort(address.sourcePort, 'source');
    checkPort(address.destinationPort, 'destination');
    const bothV4 = net.isIPv4(src) && net.isIPv4(dst) && address.family !== 'tcp6';
    if (bothV4) {
      familyByte = 0x11;
      addressBlock = new Uint8Array(TCP4_ADDRESS_BYTES);
      addressBlock.set(ipv4Bytes(src), 0);
      addressBlock.set(ipv4Bytes(dst), 4);
      new DataView(addressBlock.buffer).setUint16(8, address.sourcePort);
      new DataView(addressBlock.buffer).setUint16(10, address.destinationPort);
    } else {
      familyByte = 0x21;
      addressBlock = new Uint8Array(TCP6_ADDRESS_BYTES);
      addressBlock.set(ipv6Bytes(src), 0);
      addressBlock.set(ipv6Bytes(dst), 16);
      new DataView(addressBlock.buffer).setUint16(32, address.sourcePort);
      new DataView(addressBlock.buffer).setUint16(34, address.destinationPort);
    }
  }
  let tlvBytes = 0;
  for (const tlv of tlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 0xff) {
      throw new ProxyProtocolError('BAD_TLV', `TLV type ${tlv.type} is not a byte`);
    }
    if (!(tlv.value instanceof Uint8Array) || tlv.value.length > 0xffff) {
      throw new ProxyProtocolError('BAD_TLV', 'TLV value must be a Uint8Array of at most 65535 bytes');
    }
    tlvBytes += 3 + tlv.value.length;
  }
  const length = addressBlock.length + tlvBytes;
  if (length > 0xffff) throw new ProxyProtocolError('OVERSIZE', `header body of ${length} bytes does not fit`);
  const out = new Uint8Array(PROXY_V2_FIXED_BYTES + length);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = 0x20 | (command === 'proxy' ? 0x01 : 0x00);
  out[13] = familyByte;
  out[14] = length >> 8;
  out[15] = length & 0xff;
  out.set(addressBlock, 16);
  let at = 16 + addressBlock.length;
  for (const tlv of tlvs) {
    out[at] = tlv.type;
    out[at + 1] = tlv.value.length >> 8;
    out[at + 2] = tlv.value.length & 0xff;
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  return out;
}

/** The origin TLV ("clearnet", "tor", ...): ASCII letters, digits, '-' and '.', 1..64 bytes. */
export function originTlv(origin: string): ProxyTlv {
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(origin)) {
    throw new ProxyProtocolError('BAD_TLV', `origin ${JSON.stringify(origin)} is not a short ASCII word`);
  }
  return { type: TLV_TYPE_ORIGIN, value: new TextEncoder().encode(origin) };
}

/** The origin carried by a header, or null when it has none (or a malformed one). */
export function readOrigin(header: ProxyHeader): string | null {
  const tlv = header.tlvs.find((t) => t.type === TLV_TYPE_ORIGIN);
  if (!tlv || tlv.value.length === 0 || tlv.value.length > MAX_ORIGIN_BYTES) return null;
  const text = new TextDecoder().decode(tlv.value);
  return /^[A-Za-z0-9.-]+$/.test(text) ? text : null;
}

/** The header a proxy writes for `client` arriving on one of its own sockets. */
export function proxyAddressOf(client: net.Socket): ProxyAddress | null {
  const { remoteAddress, remotePort, localAddress, localPort } = client;
  if (!remoteAddress || remotePort === undefined || !localAddress || localPort === undefined) return null;
  const src = normalizeAddress(remoteAddress);
  const dst = normalizeAddress(localAddress);
  return {
    family: net.isIPv4(src) && net.isIPv4(dst) ? 'tcp4' : 'tcp6',
    sourceAddress: src,
    sourcePort: remotePort,
    destinationAddress: dst,
    destinationPort: localPort,
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Parses one complete header body (everything after the 16 fixed bytes). */
function decodeBody(fixed: Uint8Array, body: Uint8Array): ProxyHeader {
  const commandNibble = fixed[12]! & 0x0f;
  const command = commandNibble === 0 ? 'local' : 'proxy';
  const family = fixed[13]! >> 4;
  const protocol = fixed[13]! & 0x0f;
  let addressBytes = 0;
  let address: ProxyAddress | null = null;
  if (command === 'proxy' && family !== 0) {
    if (protocol !== 1) {
      throw new ProxyProtocolError('UNSUPPORTED_FAMILY', `transport protocol ${protocol} is not TCP (STREAM)`);
    }
    if (family === 1) addressBytes = TCP4_ADDRESS_BYTES;
    else if (family === 2) addressBytes = TCP6_ADDRESS_BYTES;
    else if (family === 3) throw new ProxyProtocolError('UNSUPPORTED_FAMILY', 'AF_UNIX addresses are not supported');
    else throw new ProxyProtocolError('UNSUPPORTED_FAMILY', `address family ${family} is unknown`);
    if (body.length < addressBytes) {
      throw new ProxyProtocolError('BAD_LENGTH', `length ${body.length} is shorter than the ${addressBytes}-byte address block`);
    }
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (family === 1) {
      address = {
        family: 'tcp4',
        sourceAddress: Array.from(body.subarray(0, 4)).join('.'),
        destinationAddress: Array.from(body.subarray(4, 8)).join('.'),
        sourcePort: view.getUint16(8),
        destinationPort: view.getUint16(10),
      };
    } else {
      address = {
        family: 'tcp6',
        sourceAddress: formatIpv6(body.subarray(0, 16)),
        destinationAddress: formatIpv6(body.subarray(16, 32)),
        sourcePort: view.getUint16(32),
        destinationPort: view.getUint16(34),
      };
    }
  } else if (family > 3 || protocol > 2) {
    // LOCAL may carry any declared family and the receiver skips the block, but nonsense nibbles
    // still mean the sender is not speaking this protocol.
    throw new ProxyProtocolError('UNSUPPORTED_FAMILY', `family/protocol byte 0x${fixed[13]!.toString(16)} is invalid`);
  } else if (family !== 0) {
    addressBytes = family === 1 ? TCP4_ADDRESS_BYTES : family === 2 ? TCP6_ADDRESS_BYTES : UNIX_ADDRESS_BYTES;
    // A LOCAL header with an address block shorter than declared is malformed.
    if (body.length < addressBytes) {
      throw new ProxyProtocolError('BAD_LENGTH', `length ${body.length} is shorter than the ${addressBytes}-byte address block`);
    }
  }
  const tlvs: ProxyTlv[] = [];
  let at = addressBytes;
  while (at < body.length) {
    if (body.length - at < 3) throw new ProxyProtocolError('BAD_TLV', 'TLV header runs past the end of the header');
    const type = body[at]!;
    const len = (body[at + 1]! << 8) | body[at + 2]!;
    if (at + 3 + len > body.length) throw new ProxyProtocolError('BAD_TLV', `TLV 0x${type.toString(16)} runs past the end of the header`);
    tlvs.push({ type, value: body.slice(at + 3, at + 3 + len) });
    at += 3 + len;
  }
  return { command, address, tlvs };
}

/** Checks the fixed part as far as it has arrived, so garbage is rejected at its first wrong byte. */
function checkFixedPrefix(bytes: Uint8Array, maxHeaderBytes: number): void {
  const n = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== PROXY_V2_SIGNATURE[i]) {
      throw new ProxyProtocolError('BAD_SIGNATURE', `byte ${i} of the PROXY v2 signature is wrong`);
    }
  }
  if (bytes.length > 12) {
    const version = bytes[12]! >> 4;
    const command = bytes[12]! & 0x0f;
    if (version !== 2) throw new ProxyProtocolError('BAD_VERSION', `version ${version} is not 2`);
    if (command > 1) throw new ProxyProtocolError('BAD_COMMAND', `command ${command} is neither LOCAL nor PROXY`);
  }
  if (bytes.length >= PROXY_V2_FIXED_BYTES) {
    const len = (bytes[14]! << 8) | bytes[15]!;
    if (PROXY_V2_FIXED_BYTES + len > maxHeaderBytes) {
      throw new ProxyProtocolError('OVERSIZE', `header of ${PROXY_V2_FIXED_BYTES + len} bytes exceeds the ${maxHeaderBytes}-byte limit`);
    }
  }
}

export interface ParsedProxyHeader {
  header: ProxyHeader;
  /** Bytes that followed the header in the same chunk(s): the start of the proxied stream. */
  rest: Uint8Array;
  headerBytes: number;
}

/** Decodes a header from a complete buffer (throws TRUNCATED when it is not complete). */
export function decodeProxyV2(bytes: Uint8Array, maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES): ParsedProxyHeader {
  const parser = new ProxyV2Parser({ maxHeaderBytes });
  const result = parser.push(bytes);
  if (!result) throw new ProxyProtocolError('TRUNCATED', `${bytes.length} bytes are not a complete header`);
  return result;
}

/**
 * Incremental parser: feed chunks as they arrive; it returns the header once complete, throws a
 * ProxyProtocolError as soon as the input cannot be a valid header, and never holds more than
 * `maxHeaderBytes` (bytes beyond the header are returned as `rest`, not buffered).
 */
export class ProxyV2Parser {
  private readonly maxHeaderBytes: number;
  private buffered = new Uint8Array(0);
  private done = false;

  constructor(options: { maxHeaderBytes?: number } = {}) {
    this.maxHeaderBytes = Math.max(PROXY_V2_FIXED_BYTES, Math.min(options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, 16 + 0xffff));
  }

  /** Bytes received so far (for callers that give up and want to hand them on). */
  get received(): Uint8Array {
    return this.buffered;
  }

  push(chunk: Uint8Array): ParsedProxyHeader | null {
    if (this.done) throw new Error('ProxyV2Parser already produced its header');
    // Only take what can belong to the header; the remainder is returned untouched.
    const need = this.needed();
    const take = Math.min(need, chunk.length);
    const merged = new Uint8Array(this.buffered.length + take);
    merged.set(this.buffered, 0);
    merged.set(chunk.subarray(0, take), this.buffered.length);
    this.buffered = merged;
    checkFixedPrefix(this.buffered, this.maxHeaderBytes);
    if (take < need) return null;
    if (this.buffered.length === PROXY_V2_FIXED_BYTES && this.needed() > 0) {
      // The length field just arrived: continue with the rest of the chunk.
      return this.push(chunk.subarray(take));
    }
    const total = this.buffered.length;
    const header = decodeBody(this.buffered.subarray(0, 16), this.buffered.subarray(16));
    this.done = true;
    return { header, rest: chunk.subarray(take), headerBytes: total };
  }

  /** How many more bytes the header needs. */
  private needed(): number {
    if (this.buffered.length < PROXY_V2_FIXED_BYTES) return PROXY_V2_FIXED_BYTES - this.buffered.length;
    const len = (this.buffered[14]! << 8) | this.buffered[15]!;
    return PROXY_V2_FIXED_BYTES + len - this.buffered.length;
  }
}

/** True when `bytes` (possibly partial) can still be the start of a v2 signature. */
export function mayStartWithSignature(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PROXY_V2_SIGNATURE[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Server side: read the header a trusted proxy put in front of a connection

export interface AcceptProxyOptions {
  /** Addresses ("10.0.0.5") and CIDR blocks ("10.0.0.0/8", "fd00::/8") allowed to send a header. */
  trustedSources: readonly string[] | net.BlockList;
  /** How long a connection may take to deliver its header (or, untrusted, its first bytes). */
  timeoutMs?: number;
  maxHeaderBytes?: number;
  /** Accept connections (without header) from untrusted sources. Default true. */
  allowUntrusted?: boolean;
  signal?: AbortSignal;
}

export interface AcceptedConnection {
  socket: net.Socket;
  /** The peer: from the header for a proxied connection, else the socket's own. */
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** True when the addresses came from a PROXY header. */
  viaProxy: boolean;
  /** The header from a trusted source (LOCAL headers too), null for direct connections. */
  header: ProxyHeader | null;
  /** The origin TLV, if the proxy sent one. */
  origin: string | null;
}

const DEFAULT_ACCEPT_TIMEOUT_MS = 5_000;

/** Builds a BlockList from addresses and CIDR blocks; throws BAD_ADDRESS on anything else. */
export function trustedSourceList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [rawAddress, prefix] = entry.split('/');
    const address = normalizeAddress(rawAddress ?? '');
    const type = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    if (!type) throw new ProxyProtocolError('BAD_ADDRESS', `trusted source ${JSON.stringify(entry)} is not an address or CIDR block`);
    if (prefix === undefined) {
      list.addAddress(address, type);
    } else {
      const bits = Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (type === 'ipv4' ? 32 : 128)) {
        throw new ProxyProtocolError('BAD_ADDRESS', `trusted source ${JSON.stringify(entry)} has a bad prefix length`);
      }
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

function isTrusted(list: net.BlockList, address: string): boolean {
  if (net.isIPv4(address)) return list.check(address, 'ipv4');
  if (net.isIPv6(address)) return list.check(address, 'ipv6');
  return false;
}

/**
 * Reads the PROXY v2 header at the start of `socket`, checking the source address first:
 * - from a trusted source the connection MUST start with a valid header, whose address replaces the socket's;
 * - from an untrusted source a header is refused (someone is trying to spoof an address), anything
 *   else is passed through untouched.
 * Bytes read past the header are pushed back with `socket.unshift`, so the caller reads the stream
 * from its first byte after the header. On any failure the socket is destroyed and the promise
 * rejects with a ProxyProtocolError.
 */
export function acceptProxyHeader(socket: net.Socket, options: AcceptProxyOptions): Promise<AcceptedConnection> {
  const trustedList = options.trustedSources instanceof net.BlockList ? options.trustedSources : trustedSourceList(options.trustedSources);
  const timeoutMs = options.timeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS;
  const allowUntrusted = options.allowUntrusted ?? true;
  const peer = normalizeAddress(socket.remoteAddress ?? '');
  const trusted = isTrusted(trustedList, peer);
  const own = (): Omit<AcceptedConnection, 'header' | 'viaProxy' | 'origin'> => ({
    socket,
    remoteAddress: peer,
    remotePort: socket.remotePort ?? 0,
    localAddress: normalizeAddress(socket.localAddress ?? ''),
    localPort: socket.localPort ?? 0,
  });

  return new Promise<AcceptedConnection>((resolve, reject) => {
    let settled = false;
    const parser = trusted ? new ProxyV2Parser({ maxHeaderBytes: options.maxHeaderBytes }) : null;
    let firstBytes = new Uint8Array(0);

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: ProxyProtocolError): void => {
      if (settled) return;
      cleanup();
      socket.destroy();
      reject(error);
    };
    const finish = (header: ProxyHeader | null, rest: Uint8Array): void => {
      if (settled) return;
      cleanup();
      if (rest.length > 0) socket.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength));
      const base = own();
      const address = header?.address ?? null;
      resolve({
        ...base,
        ...(address
          ? {
              remoteAddress: address.sourceAddress,
              remotePort: address.sourcePort,
              localAddress: address.destinationAddress,
              localPort: address.destinationPort,
            }
          : {}),
        viaProxy: address !== null,
        header,
        origin: header ? readOrigin(header) : null,
      });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        if (parser) {
          let result: ParsedProxyHeader | null;
          try {
            result = parser.push(chunk);
          } catch (error) {
            fail(error instanceof ProxyProtocolError ? error : new ProxyProtocolError('BAD_LENGTH', String(error)));
            return;
          }
          if (result) finish(result.header, result.rest);
        } else {
          const merged = new Uint8Array(firstBytes.length + chunk.length);
          merged.set(firstBytes, 0);
          merged.set(chunk, firstBytes.length);
          firstBytes = merged;
          if (!mayStartWithSignature(firstBytes)) finish(null, firstBytes);
          else if (firstBytes.length >= PROXY_V2_SIGNATURE.length) {
            fail(new ProxyProtocolError('UNTRUSTED_SOURCE', `PROXY header from untrusted source ${peer}`));
          }
        }
      }
    };
    const onEnd = (): void =>
      fail(
        parser
          ? new ProxyProtocolError(parser.received.length ? 'TRUNCATED' : 'MISSING_HEADER', `connection from ${peer} ended inside the PROXY header`)
          : new ProxyProtocolError('TRUNCATED', `connection from ${peer} ended before its first bytes could be checked`),
      );
    const onError = (error: Error): void => fail(new ProxyProtocolError('TRUNCATED', `socket error before the PROXY header: ${error.message}`));
    const onClose = (): void => fail(new ProxyProtocolError('TRUNCATED', `connection from ${peer} closed before the PROXY header`));
    const onAbort = (): void => fail(new ProxyProtocolError('TIMEOUT', 'aborted while waiting for the PROXY header'));
    const timer = setTimeout(() => fail(new ProxyProtocolError('TIMEOUT', `no complete PROXY header from ${peer} within ${timeoutMs} ms`)), timeoutMs);

    if (!trusted && !allowUntrusted) {
      fail(new ProxyProtocolError('UNTRUSTED_SOURCE', `connection from untrusted source ${peer}`));
      return;
    }
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    // Data may already be buffered (the caller attached us late).
    if (socket.readableLength > 0) onReadable();
  });
}
